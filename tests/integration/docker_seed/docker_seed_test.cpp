// The seed's Docker stories on a real dockerd (label docker): Scenario 1 with Python 3.9 and
// 3.11 nodes in one pipeline (the 3.9 base image is built by the local recipe on first use),
// cancelling a session while a node's initialize() blocks, a failing node cancelling its
// sibling's start-up, cancelling while the node's image builds, containers kept after a failed
// session for `docker logs`, and the Python traceback appearing once.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "docker/client.hpp"
#include "docker/container_manager.hpp"
#include "docker/docker_node.hpp"
#include "docker/image_builder.hpp"
#include "runtime/executor.hpp"
#include "runtime/manifest.hpp"
#include "seed_fixture.hpp"
#include "support/docker_test.hpp"
#include "support/local_index.hpp"
#include "support/silent_server.hpp"

using namespace rm::test::seed;

TEST_F(
    DockerSeedTest,
    scenario_1_runs_a_python_3_9_node_and_a_python_3_11_node_in_one_pipeline_each_reporting_its_interpreter) {
  auto m = Manifest::from_file(fs::path(RM_SOURCE_DIR) / "examples/seed/scenario1-here.yaml");
  ASSERT_TRUE(m) << m.error().to_string();
  PipelineExecutor exec(std::move(*m));
  auto session = exec.start_session();
  ASSERT_TRUE(session) << session.error().message;
  auto& s = **session;
  constexpr int kChunks = 3;
  for (int i = 0; i < kChunks; ++i)
    ASSERT_TRUE(s.push("audio_source", chunk(0.1f * float(i + 1), i * 20000)));
  ASSERT_TRUE(s.close_input("audio_source"));
  std::vector<boost::json::object> reports;
  while (auto o = s.next_output()) {
    ASSERT_NE(o->data->json(), nullptr) << summarize(*o->data);
    reports.push_back(o->data->json()->value.as_object());
  }
  auto st = s.wait();
  ASSERT_TRUE(st) << st.error().message;
  ASSERT_EQ(reports.size(), std::size_t(kChunks));
  for (int i = 0; i < kChunks; ++i) {
    const auto& a = reports[std::size_t(i)].at("node_a").as_object();
    const auto& b = reports[std::size_t(i)].at("node_b").as_object();
    EXPECT_TRUE(str(a, "python").starts_with("3.9.")) << str(a, "python");
    EXPECT_TRUE(str(b, "python").starts_with("3.11.")) << str(b, "python");
    // Each node has its own pin of the same package (the seed's torch 1.x / 2.x).
    EXPECT_EQ(str(a, "rmdemo"), "1.0");
    EXPECT_EQ(str(b, "rmdemo"), "2.0");
    EXPECT_EQ(str(b, "greeting"), "hello from rmdemo 2");
    EXPECT_EQ(a.at("frames").as_int64(), 320);
    EXPECT_NEAR(a.at("peak").as_double(), 0.1 * (i + 1), 1e-6);
  }
}

TEST_F(DockerSeedTest, cancelling_a_session_while_a_docker_node_initialize_blocks_forever_ends_it_at_once) {
  write_node("stuck.py", R"PY(
import time
from remotemedia.nodes import MultiprocessNode, RuntimeData
class Stuck(MultiprocessNode):
    async def initialize(self):
        print("initialize: blocking", flush=True)
        time.sleep(100000)  # not even cooperative: the event loop is blocked too
    async def process(self, data):
        yield data
)PY");
  const std::string node = unique("stuck");
  auto path = one_node_manifest("stuck", node, "Stuck");
  ::setenv("RM_DOCKER_INIT_TIMEOUT_MS", "300000", 1);
  auto m = Manifest::from_file(path);
  ASSERT_TRUE(m) << m.error().to_string();
  PipelineExecutor exec(std::move(*m));
  auto session = exec.start_session();
  ::unsetenv("RM_DOCKER_INIT_TIMEOUT_MS");
  ASSERT_TRUE(session) << session.error().message;
  // Wait until the container runs (its initialize() is then blocking), a few seconds more.
  bool running = false;
  for (int i = 0; i < 1200 && !running; ++i) {
    for (const auto& c : containers_of_node(node)) running = running || c.state == "running";
    if (!running) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(running) << "the node's container never ran";
  std::this_thread::sleep_for(2s);
  const auto t0 = std::chrono::steady_clock::now();
  (*session)->cancel();
  auto st = (*session)->wait();
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_FALSE(st);
  EXPECT_EQ(st.error().code, NodeErrorCode::cancelled) << st.error().message;
  std::printf("cancel -> session ended in %lld ms\n", static_cast<long long>(took.count()));
  // Far below the 300 s init timeout and the 2 s stop grace: the container was killed at once.
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(containers_of_node(node).empty());
}

TEST_F(DockerSeedTest, cancelling_a_session_while_its_nodes_image_builds_ends_the_start_up) {
  // A package index on 127.0.0.1 that accepts connections and never answers: a pip install from
  // it hangs (for minutes, with pip's retries), so the image build is provably still running
  // when the session is cancelled.
  rm::test::SilentServer hang;
  ASSERT_TRUE(hang.ok());
  const std::string hang_url = "http://127.0.0.1:" + std::to_string(hang.port()) + "/simple";
  const std::string node = unique("building");
  // A package no earlier build cached, from an index that never answers: the build's
  // `pip install` is under way and stays so.
  auto path = write_manifest("building.yaml", fmt::format(R"(version: v1
nodes:
  - id: {}
    node_type: Echo
    docker:
      python_version: "3.11"
      python_packages: ["{}==1.0"]
      resource_limits: {{memory_mb: 256, cpu_cores: 1.0}}
connections:
  - {{from: audio_source, to: {}}}
)",
                                                          node, unique("rmhang"), node));
  ::setenv("RM_PIP_INDEX_URL", hang_url.c_str(), 1);
  auto m = Manifest::from_file(path);
  ASSERT_TRUE(m) << m.error().to_string();
  PipelineExecutor exec(std::move(*m));
  auto session = exec.start_session();
  ASSERT_TRUE(session) << session.error().message;
  for (int i = 0; i < 1200 && hang.accepted() == 0; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_GT(hang.accepted(), 0) << "the image build never reached its pip install";
  (*session)->cancel();
  auto st = (*session)->wait();
  ASSERT_FALSE(st) << "the build cannot have finished: its index never answers";
  EXPECT_EQ(st.error().code, NodeErrorCode::cancelled) << st.error().message;
  EXPECT_TRUE(containers_of_node(node).empty()) << "no container was started for the node";
}

TEST_F(DockerSeedTest, a_failing_node_cancels_the_start_up_of_a_sibling_docker_node) {
  write_node("stuck.py", R"PY(
import time
from remotemedia.nodes import MultiprocessNode
class Stuck(MultiprocessNode):
    async def initialize(self):
        time.sleep(100000)
    async def process(self, data):
        yield data
)PY");
  write_node("broken.py", R"PY(
from remotemedia.nodes import MultiprocessNode
class Broken(MultiprocessNode):
    async def initialize(self):
        import time
        time.sleep(3)  # the sibling's container is up by now
        raise RuntimeError("model file missing")
    async def process(self, data):
        yield data
)PY");
  const std::string stuck = unique("stuck"), broken = unique("broken");
  auto path = write_manifest("two.yaml", fmt::format(R"(version: v1
nodes:
  - id: {0}
    node_type: Stuck
{2}  - id: {1}
    node_type: Broken
{2}connections:
  - {{from: audio_source, to: {0}}}
  - {{from: {0}, to: {1}}}
)",
                                                     stuck, broken, docker_block()));
  ::setenv("RM_DOCKER_INIT_TIMEOUT_MS", "300000", 1);
  auto m = Manifest::from_file(path);
  ASSERT_TRUE(m) << m.error().to_string();
  PipelineExecutor exec(std::move(*m));
  const auto t0 = std::chrono::steady_clock::now();
  auto session = exec.start_session();
  ::unsetenv("RM_DOCKER_INIT_TIMEOUT_MS");
  ASSERT_TRUE(session) << session.error().message;
  auto st = (*session)->wait();
  const auto took = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().node_id, broken);
  EXPECT_NE(st.error().message.find("model file missing"), std::string::npos) << st.error().message;
  // The stuck sibling did not hold the session until its 300 s init timeout.
  EXPECT_LT(took, 120s);
  EXPECT_TRUE(containers_of_node(stuck).empty());
  EXPECT_TRUE(containers_of_node(broken).empty());
}

TEST_F(DockerSeedTest,
       a_failed_run_with_keep_containers_leaves_them_stopped_for_docker_logs_and_cleanup_removes_them) {
  write_node("faulty.py", R"PY(
from remotemedia.nodes import MultiprocessNode
class Faulty(MultiprocessNode):
    async def process(self, data):
        raise ValueError("bad chunk at %d" % data.timestamp)
        yield data
)PY");
  const std::string node = unique("faulty");
  auto path = one_node_manifest("faulty", node, "Faulty");
  const auto wav = input_wav();
  const std::string cli = remotemedia_cli();
  // The seed's flag (it sets RM_DOCKER_KEEP=on-failure for the session when that is unset).
  auto [code, out] = run(fmt::format("env -u RM_DOCKER_KEEP {} run {} --keep-containers --input {}", cli,
                                     path.string(), wav.string()));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("bad chunk at 0"), std::string::npos) << out;
  // The traceback is in the log once (the runner's stderr), not once per layer.
  EXPECT_EQ(count(out, "Traceback (most recent call last)"), 1u) << out;
  auto kept = containers_of_node(node);
  ASSERT_EQ(kept.size(), 1u) << out;
  kept_.push_back(kept[0].id);
  EXPECT_EQ(kept[0].state, "exited");
  std::string logs;
  ASSERT_TRUE(client_->container_logs(
      kept[0].id, false, [&](rm::docker::LogStream, std::string_view l) { logs += std::string(l) + "\n"; }));
  EXPECT_NE(logs.find("ValueError: bad chunk at 0"), std::string::npos) << logs;
  auto info = client_->container_inspect(kept[0].id);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_FALSE(info->running);
  // An automatic sweep (the next session's) leaves a kept container alone ...
  auto sweep = rm::docker::sweep_orphans(*client_);
  ASSERT_TRUE(sweep) << sweep.error().message;
  EXPECT_EQ(containers_of_node(node).size(), 1u);
  // ... `remotemedia cleanup` removes it (its owner, the run above, has exited).
  auto [ccode, cout_] = run(cli + " cleanup");
  EXPECT_EQ(ccode, 0) << cout_;
  EXPECT_NE(cout_.find(kept[0].name), std::string::npos) << cout_;
  EXPECT_TRUE(containers_of_node(node).empty());
}

TEST_F(DockerSeedTest, shell_starts_the_nodes_container_as_a_session_would_and_removes_it_after) {
  write_echo_node();
  const std::string node = unique("shelled");
  auto path = one_node_manifest("shell", node, "Echo");
  const std::string cli = remotemedia_cli();
  auto [code, out] = run(fmt::format(
      "printf 'python3 -c \"import rmdemo, remotemedia; print(rmdemo.GREETING)\"\\nls /app/nodes\\n"
      "test -r $RM_IPC_LIBRARY && echo lib-ok\\nexit 7\\n' | {} shell {} {}",
      cli, path.string(), node));
  EXPECT_EQ(code, 7) << out;
  EXPECT_NE(out.find("hello from rmdemo"), std::string::npos) << out;  // the image's pip package
  EXPECT_NE(out.find("echo.py"), std::string::npos) << out;            // the manifest's volume
  EXPECT_NE(out.find("lib-ok"), std::string::npos) << out;             // the IPC library, as for the runner
  EXPECT_NE(out.find("a session would run: python3 -m remotemedia.runner --node-type Echo"),
            std::string::npos)
      << out;
  EXPECT_TRUE(containers_of_node(node).empty());
  auto [bad, bad_out] = run(fmt::format("{} shell {} nosuchnode", cli, path.string()));
  EXPECT_EQ(bad, 1);
  EXPECT_NE(bad_out.find("has no docker node 'nosuchnode' (docker nodes: " + node + ")"), std::string::npos)
      << bad_out;
}

TEST_F(DockerSeedTest, ctrl_c_of_remotemedia_run_while_a_node_initializes_ends_the_run_and_its_container) {
  write_node("stuck.py", R"PY(
import time
from remotemedia.nodes import MultiprocessNode
class Stuck(MultiprocessNode):
    async def initialize(self):
        time.sleep(100000)
    async def process(self, data):
        yield data
)PY");
  const std::string node = unique("stuckcli");
  auto path = one_node_manifest("stuck", node, "Stuck");
  const auto wav = input_wav();
  const std::string cli = remotemedia_cli();
  const std::string log = (work_ / "run.log").string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("RM_DOCKER_INIT_TIMEOUT_MS", "300000", 1);
    std::freopen(log.c_str(), "w", stderr);
    std::freopen("/dev/null", "w", stdout);
    ::execl(cli.c_str(), cli.c_str(), "run", path.c_str(), "--input", wav.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool running = false;
  for (int i = 0; i < 1200 && !running; ++i) {
    for (const auto& c : containers_of_node(node)) running = running || c.state == "running";
    if (!running) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(running) << "the node's container never ran";
  std::this_thread::sleep_for(1s);
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  int st = 0;
  ::waitpid(pid, &st, 0);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::printf("SIGINT -> remotemedia run exited in %lld ms\n", static_cast<long long>(took.count()));
  std::ifstream in(log);
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(st)) << out;
  EXPECT_EQ(WEXITSTATUS(st), 1) << out;
  EXPECT_NE(out.find("cancelled"), std::string::npos) << out;
  EXPECT_LT(took, 1500ms) << out;  // not the 300 s init timeout, not the stop grace
  EXPECT_TRUE(containers_of_node(node).empty());
}
