// The seed's Ctrl-C and debugging promises at the start-up steps the other stories do not
// reach (label docker): a cancel while the base image is being pulled from a registry that
// never answers, and right after the node's container was created; RM_DOCKER_KEEP=always after
// a session that succeeded, and an RM_DOCKER_KEEP value that means nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>

#include "core/log.hpp"
#include "docker/image_builder.hpp"
#include "runtime/manifest.hpp"
#include "seed_fixture.hpp"
#include "support/silent_server.hpp"

using namespace rm::test::seed;

namespace {

// Collects the "docker" logger's lines (debug and up while installed); when a line contains
// `trigger`, calls on_trigger on the logging thread itself, before that thread goes on.
class TriggerSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  TriggerSink(std::string trigger, std::function<void()> on_trigger)
      : trigger_(std::move(trigger)), on_trigger_(std::move(on_trigger)) {}
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string line(msg.payload.data(), msg.payload.size());
    {
      std::lock_guard lock(mu_);
      text_ += line + "\n";
    }
    if (line.find(trigger_) != std::string::npos && !fired_.exchange(true)) on_trigger_();
  }
  void flush_() override {}

 private:
  std::string trigger_;
  std::function<void()> on_trigger_;
  std::atomic<bool> fired_{false};
  mutable std::mutex mu_;  // base_sink's own mutex is a null_mutex: on_trigger_ may log
  std::string text_;
};

// Installs a sink on the "docker" logger at debug level for its lifetime (no session of the
// test may be logging when it is made or destroyed).
class DockerLogTap {
 public:
  explicit DockerLogTap(std::shared_ptr<spdlog::sinks::sink> sink) : sink_(std::move(sink)) {
    auto log = rm::core::logger("docker");
    level_ = log->level();
    log->sinks().push_back(sink_);
    log->set_level(spdlog::level::debug);
  }
  ~DockerLogTap() {
    auto log = rm::core::logger("docker");
    log->set_level(level_);
    auto& sinks = log->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  DockerLogTap(const DockerLogTap&) = delete;
  DockerLogTap& operator=(const DockerLogTap&) = delete;

 private:
  std::shared_ptr<spdlog::sinks::sink> sink_;
  spdlog::level::level_enum level_;
};

std::chrono::milliseconds since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

}  // namespace

TEST_F(DockerSeedTest,
       cancelling_a_session_while_its_base_image_pull_hangs_ends_the_start_up_and_leaves_nothing_behind) {
  // A registry on 127.0.0.1 (dockerd pulls from loopback over plain HTTP without configuration)
  // that accepts connections and never answers: the daemon's pull hangs in its TLS handshake
  // and then in plain HTTP (about 25 s in all before it gives up), so the pull is provably under
  // way when the session is cancelled.
  auto registry = std::make_unique<rm::test::SilentServer>();
  ASSERT_TRUE(registry->ok());
  const std::string base = fmt::format("127.0.0.1:{}/python:3.11-slim", registry->port());
  const std::string node = unique("pulling");
  const std::string yaml = fmt::format(R"(version: v1
nodes:
  - id: {}
    node_type: Echo
    docker:
      base_image: "{}"
      python_version: "3.11"
      resource_limits: {{memory_mb: 256, cpu_cores: 1.0}}
connections:
  - {{from: audio_source, to: {}}}
)",
                                       node, base, node);
  auto path = write_manifest("pulling.yaml", yaml);
  auto m = Manifest::from_file(path);
  ASSERT_TRUE(m) << m.error().to_string();
  const auto node_image = rm::docker::image_tag(m->nodes().at(0).docker.value());
  PipelineExecutor exec(std::move(*m));
  auto session = exec.start_session();
  ASSERT_TRUE(session) << session.error().message;
  for (int i = 0; i < 600 && registry->accepted() == 0; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_GT(registry->accepted(), 0) << "the daemon never reached the registry";
  const int connections_at_cancel = registry->accepted();
  const auto t0 = std::chrono::steady_clock::now();
  (*session)->cancel();
  auto st = (*session)->wait();
  const auto took = since(t0);
  ASSERT_FALSE(st) << "the pull cannot have finished: the registry never answers";
  EXPECT_EQ(st.error().code, NodeErrorCode::cancelled) << st.error().message;
  std::printf("cancel during the pull -> session ended in %lld ms\n", static_cast<long long>(took.count()));
  // Far below the ~25 s after which the daemon gives the pull up by itself.
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(containers_of_node(node).empty());
  auto base_info = client_->image_inspect(base);
  ASSERT_TRUE(base_info) << base_info.error().message;
  EXPECT_FALSE(*base_info) << "no (partial) base image " << base;
  auto built = client_->image_inspect(node_image);
  ASSERT_TRUE(built) << built.error().message;
  EXPECT_FALSE(*built) << "no node image " << node_image;
  // The daemon dropped the pull too: it closes its connection when its TLS handshake times out
  // (10 s) and, the pull being cancelled, does not retry over plain HTTP as a wanted pull does.
  for (int i = 0; i < 200 && registry->open() > 0; ++i) std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(1s);  // a retry would connect right after that close
  EXPECT_EQ(registry->open(), 0);
  EXPECT_EQ(registry->accepted(), connections_at_cancel) << "the daemon went on pulling after the cancel";

  // The next run finds no half-pulled state: it pulls again and, the registry now gone, fails
  // with the pull's reason and the ways out.
  registry.reset();
  auto m2 = Manifest::from_file(path);
  ASSERT_TRUE(m2) << m2.error().to_string();
  PipelineExecutor exec2(std::move(*m2));
  auto again = exec2.start_session();
  ASSERT_TRUE(again) << again.error().message;
  auto st2 = (*again)->wait();
  ASSERT_FALSE(st2);
  EXPECT_EQ(st2.error().code, NodeErrorCode::init_failed) << st2.error().message;
  EXPECT_NE(st2.error().message.find("pulling " + base + " failed"), std::string::npos)
      << st2.error().message;
  EXPECT_NE(st2.error().message.find("connection refused"), std::string::npos) << st2.error().message;
  EXPECT_NE(st2.error().message.find("no local recipe"), std::string::npos) << st2.error().message;
  EXPECT_TRUE(containers_of_node(node).empty());
}

TEST_F(DockerSeedTest,
       cancelling_a_session_right_after_its_nodes_container_is_created_removes_the_container_unstarted) {
  write_echo_node();
  const std::string node = unique("created");
  auto path = one_node_manifest("created", node, "Echo");
  auto m = Manifest::from_file(path);
  ASSERT_TRUE(m) << m.error().to_string();
  PipelineExecutor exec(std::move(*m));
  // The cancel is issued on the node's start-up thread as it logs the create, i.e. after the
  // daemon created the container and before it is started.
  std::atomic<Session*> running{nullptr};
  auto sink = std::make_shared<TriggerSink>("node " + node + ": created container", [&] {
    for (int i = 0; i < 3000 && running.load() == nullptr; ++i) std::this_thread::sleep_for(10ms);
    if (auto* s = running.load()) s->cancel();
  });
  std::optional<DockerLogTap> tap(std::in_place, sink);
  auto session = exec.start_session();
  ASSERT_TRUE(session) << session.error().message;
  running = session->get();
  auto st = (*session)->wait();
  tap.reset();
  const std::string log = sink->text();
  ASSERT_NE(log.find("node " + node + ": created container"), std::string::npos)
      << "the start-up never created the container\n"
      << log;
  ASSERT_FALSE(st) << "cancelled before its runner could start";
  EXPECT_EQ(st.error().code, NodeErrorCode::cancelled) << st.error().message;
  // NodeContainer::start logs the start of a container it started (debug, right after it).
  EXPECT_EQ(log.find("node " + node + ": started container"), std::string::npos) << "never started\n" << log;
  EXPECT_TRUE(containers_of_node(node).empty());
}

TEST_F(DockerSeedTest,
       a_successful_run_with_rm_docker_keep_always_leaves_its_container_stopped_until_cleanup) {
  write_echo_node();
  const std::string node = unique("keptok");
  auto path = one_node_manifest("kept", node, "Echo");
  const auto wav = input_wav();
  const std::string cli = remotemedia_cli();
  auto [code, out] =
      run(fmt::format("env RM_DOCKER_KEEP=always {} run {} --input {}", cli, path.string(), wav.string()));
  EXPECT_EQ(code, 0) << out;
  auto kept = containers_of_node(node);
  ASSERT_EQ(kept.size(), 1u) << out;
  kept_.push_back(kept[0].id);
  EXPECT_EQ(kept[0].state, "exited");
  EXPECT_NE(out.find("container " + kept[0].name + " kept (stopped, RM_DOCKER_KEEP)"), std::string::npos)
      << out;
  auto info = client_->container_inspect(kept[0].id);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_FALSE(info->running);
  EXPECT_EQ(info->exit_code, 0) << "the runner stopped cleanly at the session's end";
  auto [ccode, cout_] = run(cli + " cleanup");
  EXPECT_EQ(ccode, 0) << cout_;
  EXPECT_NE(cout_.find(kept[0].name), std::string::npos) << cout_;
  EXPECT_TRUE(containers_of_node(node).empty());
}

TEST_F(DockerSeedTest,
       an_rm_docker_keep_value_that_means_nothing_is_an_error_naming_the_variable_and_its_values) {
  const std::string node = unique("badkeep");
  auto path = one_node_manifest("badkeep", node, "Echo");
  const auto wav = input_wav();
  const std::string cli = remotemedia_cli();
  // Also with --keep-containers: the flag never overrides what the variable says.
  auto [code, out] = run(fmt::format("env RM_DOCKER_KEEP=on_failure {} run {} --keep-containers --input {}",
                                     cli, path.string(), wav.string()));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(
      out.find("RM_DOCKER_KEEP='on_failure' is not a valid value: use never (the default), on-failure or "
               "always"),
      std::string::npos)
      << out;
  EXPECT_EQ(count(out, "RM_DOCKER_KEEP='on_failure'"), 1u) << "said once\n" << out;
  EXPECT_TRUE(containers_of_node(node).empty()) << "the session never started";
}

TEST_F(DockerSeedTest,
       an_rm_docker_fallback_value_that_means_nothing_is_an_error_naming_the_variable_and_its_values) {
  const std::string node = unique("badfallback");
  auto path = one_node_manifest("badfallback", node, "Echo");
  const auto wav = input_wav();
  const std::string cli = remotemedia_cli();
  auto [code, out] =
      run(fmt::format("env RM_DOCKER_FALLBACK=host {} run {} --input {}", cli, path.string(), wav.string()));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("RM_DOCKER_FALLBACK='host' is not a valid value: use error (the default) or process"),
            std::string::npos)
      << out;
  EXPECT_EQ(count(out, "RM_DOCKER_FALLBACK='host'"), 1u) << "said once\n" << out;
  EXPECT_TRUE(containers_of_node(node).empty()) << "the session never started";
}
