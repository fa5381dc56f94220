// DockerNode against a real dockerd (label docker; skipped without a daemon unless
// RM_REQUIRE_DOCKER=1). Every test uses its own IPC root, session ids and node files; all tests
// share one image config (python:3.11-slim + libsndfile1 + a wheel from a local index on
// 127.0.0.1), so the image is built once and reused (cached by config hash).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "docker/client.hpp"
#include "docker/container_manager.hpp"
#include "docker/docker_node.hpp"
#include "docker/image_builder.hpp"
#include "process/session_dir.hpp"
#include "runtime/executor.hpp"
#include "runtime/manifest.hpp"
#include "support/docker_test.hpp"
#include "support/free_port.hpp"
#include "support/local_index.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace rm::runtime;
using rm::docker::DockerClient;
using rm::docker::DockerNode;
using rm::docker::DockerNodeOptions;

namespace {

using rm::test::LocalIndex;
using rm::test::require_docker;
using rm::test::unique;

std::size_t files_under(const fs::path& root) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    ++n;
  return n;
}

struct CollectingEmitter : Emitter {
  std::vector<DataPtr> outputs;
  Status emit(DataPtr d) override {
    outputs.push_back(std::move(d));
    return {};
  }
};

DataPtr chunk(float value, std::int64_t ts, std::size_t n = 320) {
  return RuntimeData::make_audio(std::vector<float>(n, value), 16000, 1, ts);
}

}  // namespace

class DockerNodeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { index_ = new LocalIndex(); }
  static void TearDownTestSuite() {
    rm::docker::shutdown_shared_containers();
    delete index_;
  }

  void SetUp() override {
    ::unsetenv("RM_DOCKER_SHARE");
    ::unsetenv("RM_DOCKER_FALLBACK");
    ::unsetenv("DOCKER_HOST");
    auto c = DockerClient::connect_from_env();
    if (!c) {
      if (require_docker()) FAIL() << "RM_REQUIRE_DOCKER=1 but: " << c.error().message;
      GTEST_SKIP() << c.error().message;
    }
    client_.emplace(std::move(*c));
    std::tie(root_, work_) = rm::test::make_node_test_dirs("rm-dnode", index_->url());
    ::setenv("REMOTEMEDIA_NODE_PATH", (fs::path(RM_SOURCE_DIR) / "examples/python/nodes").c_str(), 1);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
    fs::remove_all(work_, ec);
  }

  // The image config every test shares (limits differ, they are not part of the image).
  static DockerConfig config(std::uint64_t memory_mb = 256) {
    DockerConfig c;
    c.python_version = "3.11";
    c.system_dependencies = {"libsndfile1"};
    c.python_packages = {"rmdemo==1.0"};
    c.resource_limits = {memory_mb, 1.0};
    c.shm_size_mb = 64;
    c.env = {{"PYTHONUNBUFFERED", "1"}};
    return c;
  }

  // Writes a node file into work_/nodes and mounts that directory at /app/nodes.
  DockerConfig with_node_file(DockerConfig c, const std::string& file, const std::string& code) {
    std::ofstream(work_ / "nodes" / file) << code;
    c.volumes.push_back({(work_ / "nodes").string(), "/app/nodes", true});
    return c;
  }

  std::size_t containers_owned_by_me() {
    auto l =
        client_->container_list({{std::string(rm::docker::kLabelOwner), std::to_string(::getpid())}}, true);
    EXPECT_TRUE(l) << (l ? "" : l.error().message);
    return l ? l->size() : 999;
  }

  static Manifest example() {
    auto m = Manifest::from_file(fs::path(RM_SOURCE_DIR) / "examples/docker-node/pipeline.yaml");
    EXPECT_TRUE(m) << (m ? "" : m.error().to_string());
    return std::move(*m);
  }

  // Runs the example pipeline once: `chunks` audio chunks with distinct levels; returns the
  // transcripts in output order.
  static std::vector<std::string> run_example(PipelineExecutor& exec, int chunks, float base) {
    auto session = exec.start_session();
    EXPECT_TRUE(session) << (session ? "" : session.error().message);
    if (!session) return {};
    auto& s = **session;
    for (int i = 0; i < chunks; ++i)
      EXPECT_TRUE(s.push("audio_source", chunk(base + 0.1f * static_cast<float>(i), i * 20000)));
    EXPECT_TRUE(s.close_input("audio_source"));
    std::vector<std::string> got;
    while (auto o = s.next_output()) {
      if (const auto* j = o->data->json()) {
        if (auto* t = j->value.as_object().if_contains("transcript")) got.emplace_back(t->as_string());
      }
    }
    auto st = s.wait();
    EXPECT_TRUE(st) << (st ? "" : st.error().message);
    return got;
  }

  static std::string expected(float level) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "320 samples, rms %.3f", 0.5 * static_cast<double>(level));
    return buf;
  }

  std::optional<DockerClient> client_;
  fs::path root_, work_;
  static LocalIndex* index_;
};

LocalIndex* DockerNodeTest::index_ = nullptr;

TEST_F(DockerNodeTest, seed_node_runs_in_a_container_after_native_and_host_process_nodes_in_order) {
  PipelineExecutor exec(example());
  auto got = run_example(exec, 5, 0.2f);
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) want.push_back(expected(0.2f + 0.1f * static_cast<float>(i)));
  EXPECT_EQ(got, want);
  EXPECT_EQ(containers_owned_by_me(), 0u);
  EXPECT_EQ(files_under(root_), 0u);
}

TEST_F(DockerNodeTest, two_docker_nodes_with_different_configs_each_get_their_own_image) {
  // Node a uses the shared test image; node b's config adds jq, so it gets its own image.
  const std::string code = R"PY(
import shutil, rmdemo
from remotemedia.nodes import MultiprocessNode, RuntimeData
class Tag(MultiprocessNode):
    async def process(self, data):
        which = "jq" if shutil.which("jq") else "nojq"
        yield RuntimeData(data_type="text", text=which + ":" + data.text, timestamp=data.timestamp)
)PY";
  auto a = with_node_file(config(), "tag.py", code);
  auto b = a;
  b.system_dependencies = {"libsndfile1", "jq"};
  ASSERT_NE(rm::docker::image_tag(a), rm::docker::image_tag(b));
  std::vector<std::unique_ptr<DockerNode>> nodes;
  for (auto* c : {&a, &b}) {
    auto o = DockerNodeOptions::from_env(c == &a ? "na" : "nb", "Tag", unique("s"), {}, *c);
    nodes.push_back(std::make_unique<DockerNode>(std::move(o)));
    auto st = nodes.back()->initialize();
    ASSERT_TRUE(st) << st.error().message;
  }
  EXPECT_NE(nodes[0]->image(), nodes[1]->image());
  std::vector<std::string> out;
  CollectingEmitter em;
  ASSERT_TRUE(nodes[0]->process(RuntimeData::make_text("x", 1), em));
  ASSERT_TRUE(nodes[1]->process(em.outputs.back(), em));
  ASSERT_EQ(em.outputs.size(), 2u);
  EXPECT_EQ(em.outputs[1]->text()->text, "jq:nojq:x");
  for (auto& n : nodes) n->close();
  EXPECT_EQ(containers_owned_by_me(), 0u);
}

TEST_F(DockerNodeTest, allocating_past_memory_mb_ends_with_the_oom_message) {
  auto c = with_node_file(config(128), "hog.py", R"PY(
from remotemedia.nodes import MultiprocessNode, RuntimeData
class Hog(MultiprocessNode):
    async def process(self, data):
        blocks = []
        for _ in range(64):
            blocks.append(bytearray(16 * 1024 * 1024))  # 1 GiB in total, touched
        yield RuntimeData(data_type="text", text="unreachable", timestamp=0)
)PY");
  DockerNode node(DockerNodeOptions::from_env("hog", "Hog", unique("s"), {}, c));
  auto st = node.initialize();
  ASSERT_TRUE(st) << st.error().message;
  CollectingEmitter em;
  auto r = node.process(RuntimeData::make_text("go", 1), em);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("node hog: container killed, memory limit 128 MB exceeded"),
            std::string::npos)
      << r.error().message;
  node.close();
  EXPECT_EQ(containers_owned_by_me(), 0u);
}

TEST_F(DockerNodeTest, consecutive_sessions_leave_zero_containers_and_zero_ipc_files) {
  const int n =
      std::atoi(std::getenv("RM_DOCKER_NODE_SESSIONS") ? std::getenv("RM_DOCKER_NODE_SESSIONS") : "100");
  PipelineExecutor exec(example());
  for (int i = 0; i < n; ++i) {
    auto got = run_example(exec, 1, 0.5f);
    ASSERT_EQ(got, std::vector<std::string>{expected(0.5f)}) << "session " << i;
  }
  EXPECT_EQ(containers_owned_by_me(), 0u);
  EXPECT_EQ(files_under(root_), 0u);
}

TEST_F(DockerNodeTest, concurrent_sessions_get_their_own_outputs) {
  PipelineExecutor exec(example());
  constexpr int kSessions = 4;
  std::vector<std::vector<std::string>> got(kSessions);
  std::vector<std::thread> threads;
  for (int s = 0; s < kSessions; ++s)
    threads.emplace_back([&, s] { got[s] = run_example(exec, 6, 0.1f * static_cast<float>(s + 1)); });
  for (auto& t : threads) t.join();
  for (int s = 0; s < kSessions; ++s) {
    std::vector<std::string> want;
    for (int i = 0; i < 6; ++i)
      want.push_back(expected(0.1f * static_cast<float>(s + 1) + 0.1f * static_cast<float>(i)));
    EXPECT_EQ(got[s], want) << "session " << s;
  }
  EXPECT_EQ(containers_owned_by_me(), 0u);
  EXPECT_EQ(files_under(root_), 0u);
}

TEST_F(DockerNodeTest, shared_containers_are_reused_warm_and_each_session_has_its_own_runner) {
  ::setenv("RM_DOCKER_SHARE", "1", 1);
  auto c = with_node_file(config(), "echo_sid.py", R"PY(
from remotemedia.nodes import MultiprocessNode, RuntimeData
class Mark(MultiprocessNode):
    async def process(self, data):
        yield RuntimeData(data_type="text", text=data.text + "!", timestamp=data.timestamp)
)PY");
  std::string first_id;
  for (int i = 0; i < 3; ++i) {
    DockerNode node(DockerNodeOptions::from_env("mark", "Mark", unique("s"), {}, c));
    auto st = node.initialize();
    ASSERT_TRUE(st) << st.error().message;
    if (i == 0)
      first_id = node.container_id();
    else {
      EXPECT_TRUE(node.reused_container());
      EXPECT_EQ(node.container_id(), first_id);
    }
    CollectingEmitter em;
    ASSERT_TRUE(node.process(RuntimeData::make_text(std::to_string(i), 1), em));
    ASSERT_EQ(em.outputs.size(), 1u);
    EXPECT_EQ(em.outputs[0]->text()->text, std::to_string(i) + "!");
    node.close();
  }
  rm::docker::shutdown_shared_containers();
  EXPECT_EQ(containers_owned_by_me(), 0u);
  EXPECT_EQ(files_under(root_), 0u);
}

TEST_F(DockerNodeTest, unreachable_daemon_is_an_error_or_a_host_process_by_policy) {
  ::setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock", 1);
  auto c = config();
  c.volumes.push_back({(fs::path(RM_SOURCE_DIR) / "examples/python/nodes/my_custom_node.py").string(),
                       "/app/nodes/my_custom_node.py", true});
  {
    DockerNode node(DockerNodeOptions::from_env("n", "MyCustomNode", unique("s"), {}, c));
    auto st = node.initialize();
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("Docker daemon not accessible at /nonexistent/docker.sock"),
              std::string::npos)
        << st.error().message;
  }
  ::setenv("RM_DOCKER_FALLBACK", "process", 1);
  DockerNode node(DockerNodeOptions::from_env("n", "MyCustomNode", unique("s"), {}, c));
  auto st = node.initialize();
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_TRUE(node.fell_back_to_process());
  CollectingEmitter em;
  ASSERT_TRUE(node.process(chunk(0.5f, 0), em));
  ASSERT_EQ(em.outputs.size(), 1u);
  node.close();
}

TEST_F(DockerNodeTest, kill_9_of_the_host_then_a_sweep_leaves_nothing_behind) {
  auto c = with_node_file(config(), "idle.py", R"PY(
from remotemedia.nodes import MultiprocessNode, RuntimeData
class Idle(MultiprocessNode):
    async def process(self, data):
        yield data
)PY");
  const std::string sid = unique("killed");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  if (child == 0) {
    DockerNode node(DockerNodeOptions::from_env("idle", "Idle", sid, {}, c));
    char ok = node.initialize() ? 'y' : 'n';
    [[maybe_unused]] auto w = ::write(ready[1], &ok, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(ok, 'y');
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  auto left = client_->container_list({{std::string(rm::docker::kLabelSession), sid}}, true);
  ASSERT_TRUE(left);
  EXPECT_EQ(left->size(), 1u);  // the dead host's container is still there ...
  EXPECT_TRUE(fs::exists(root_ / sid));
  // ... until the next start sweeps (what the docker provider and `remotemedia cleanup` run).
  auto swept = rm::docker::sweep_orphans(*client_);
  ASSERT_TRUE(swept) << swept.error().message;
  rm::process::sweep_stale_sessions(root_);
  left = client_->container_list({{std::string(rm::docker::kLabelSession), sid}}, true);
  ASSERT_TRUE(left);
  EXPECT_EQ(left->size(), 0u);
  EXPECT_EQ(files_under(root_), 0u);
}

namespace {

// A node whose input text decides what it does: echo, raise, or end its process.
constexpr const char* kCrashyNode = R"PY(
import os, sys
from remotemedia.nodes import MultiprocessNode, RuntimeData
class Crashy(MultiprocessNode):
    async def process(self, data):
        if data.text == "boom":
            raise ValueError("boom requested")
        if data.text == "exit":
            print("about to exit with 3", flush=True)
            print("last words on stderr", file=sys.stderr, flush=True)
            os._exit(3)
        yield RuntimeData(data_type="text", text=data.text + "!", timestamp=data.timestamp)
)PY";

std::string processed(DockerNode& node, const std::string& text) {
  CollectingEmitter em;
  auto st = node.process(RuntimeData::make_text(text, 1), em);
  if (!st) return "error: " + st.error().message;
  if (em.outputs.size() != 1 || !em.outputs[0]->text()) return "unexpected outputs";
  return em.outputs[0]->text()->text;
}

}  // namespace

// Shared mode with the resident runner server: sessions are forked in the warm container, never
// exec'd; a crashing runner is reported and leaves the other session and the server alone.
class DockerNodeSharedServerTest : public DockerNodeTest {
 protected:
  void SetUp() override {
    DockerNodeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    rm::docker::shutdown_shared_containers();  // a fresh pool that reads the settings below
    ::setenv("RM_DOCKER_SHARE", "1", 1);
    ::setenv("RM_DOCKER_WARM_IDLE_MS", "500", 1);
  }
  void TearDown() override {
    rm::docker::shutdown_shared_containers();
    ::unsetenv("RM_DOCKER_WARM_IDLE_MS");
    ::unsetenv("RM_DOCKER_SHARE");
    DockerNodeTest::TearDown();
  }

  // ExecIDs of GET /containers/{id}/json: how many execs the daemon knows for the container.
  std::size_t exec_ids(const std::string& id) {
    auto r = client_->request("GET", "/containers/" + id + "/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : r.error().message);
    if (!r || r->status != 200) return 999;
    auto v = boost::json::parse(r->body);
    const auto* ids = v.as_object().if_contains("ExecIDs");
    return ids == nullptr || ids->is_null() ? 0 : ids->as_array().size();
  }

  std::string container_name(const std::string& id) {
    auto info = client_->container_inspect(id);
    EXPECT_TRUE(info) << (info ? "" : info.error().message);
    return info ? info->name : std::string();
  }

  // Waits (bounded) until the pool's reaper has removed every container of this process.
  bool no_containers_left_within(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (containers_owned_by_me() == 0) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  // The runner server's control directories (rms-*) under the IPC root.
  std::vector<fs::path> control_dirs() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(root_))
      if (e.path().filename().string().rfind("rms-", 0) == 0) out.push_back(e.path());
    return out;
  }
};

TEST_F(DockerNodeSharedServerTest,
       warm_sessions_start_without_exec_and_a_crashing_runner_spares_the_other_session) {
  auto c = with_node_file(config(), "crashy.py", kCrashyNode);
  std::string id;
  for (int i = 0; i < 2; ++i) {
    DockerNode node(DockerNodeOptions::from_env("crashy", "Crashy", unique("s"), {}, c));
    auto st = node.initialize();
    ASSERT_TRUE(st) << st.error().message;
    if (i == 0) {
      id = node.container_id();
      EXPECT_FALSE(node.reused_container());
    } else {
      EXPECT_TRUE(node.reused_container());
      EXPECT_EQ(node.container_id(), id);
    }
    EXPECT_EQ(processed(node, "x" + std::to_string(i)), "x" + std::to_string(i) + "!");
    EXPECT_EQ(exec_ids(id), 0u);
    node.close();
  }
  EXPECT_EQ(containers_owned_by_me(), 1u);  // one container, warm between the sessions

  DockerNode steady(DockerNodeOptions::from_env("steady", "Crashy", unique("s"), {}, c));
  DockerNode crashing(DockerNodeOptions::from_env("crashing", "Crashy", unique("s"), {}, c));
  for (auto* n : {&steady, &crashing}) {
    auto st = n->initialize();
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ(n->container_id(), id);
  }
  EXPECT_EQ(processed(steady, "a"), "a!");
  // An exception in process() is the node's error; the runner goes on.
  auto boom = processed(crashing, "boom");
  EXPECT_NE(boom.find("node crashing: process failed: ValueError: boom requested"), std::string::npos)
      << boom;
  EXPECT_EQ(processed(crashing, "fine"), "fine!");
  EXPECT_EQ(processed(steady, "b"), "b!");
  // os._exit(3): the runner is gone; its exit code and last lines are in the error.
  auto gone = processed(crashing, "exit");
  EXPECT_NE(gone.find("node crashing: runner in shared container " + container_name(id) +
                      " exited with code 3; last log lines:"),
            std::string::npos)
      << gone;
  EXPECT_NE(gone.find("about to exit with 3"), std::string::npos) << gone;
  EXPECT_NE(gone.find("last words on stderr"), std::string::npos) << gone;
  EXPECT_EQ(processed(steady, "c"), "c!");
  crashing.close();
  EXPECT_EQ(processed(steady, "d"), "d!");
  steady.close();
  EXPECT_EQ(exec_ids(id), 0u);

  // After the last session and the idle time nothing is left.
  EXPECT_TRUE(no_containers_left_within(60s));
  EXPECT_EQ(files_under(root_), 0u);
}

TEST_F(DockerNodeSharedServerTest, a_container_whose_runner_server_is_gone_is_never_handed_out_again) {
  auto c = with_node_file(config(), "crashy.py", kCrashyNode);
  std::string first;
  {
    DockerNode node(DockerNodeOptions::from_env("crashy", "Crashy", unique("s"), {}, c));
    auto st = node.initialize();
    ASSERT_TRUE(st) << st.error().message;
    first = node.container_id();
    node.close();
  }
  // The socket is missing: the session fails naming node and container (which is then stopped
  // at once: nobody else holds it).
  const std::string first_name = container_name(first);
  auto dirs = control_dirs();
  ASSERT_EQ(dirs.size(), 1u);
  fs::remove(dirs[0] / "runner.sock");
  {
    DockerNode node(DockerNodeOptions::from_env("lost", "Crashy", unique("s"), {}, c));
    auto st = node.initialize();
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("node lost: the runner server in shared container " + first_name +
                                      " is not answering"),
              std::string::npos)
        << st.error().message;
    node.close();
  }
  // The next session gets a new container.
  DockerNode node(DockerNodeOptions::from_env("crashy", "Crashy", unique("s"), {}, c));
  auto st = node.initialize();
  ASSERT_TRUE(st) << st.error().message;
  const std::string second = node.container_id();
  EXPECT_NE(second, first);
  EXPECT_EQ(processed(node, "y"), "y!");

  // The server dies (SIGKILL from the host: the child of the container's init): the running
  // session fails naming the container, and the container is not handed out again.
  auto info = client_->container_inspect(second);
  ASSERT_TRUE(info) << info.error().message;
  std::ifstream children(fmt::format("/proc/{}/task/{}/children", info->pid, info->pid));
  long server_pid = 0;
  ASSERT_TRUE(children >> server_pid) << "no child under the container's init";
  const std::string second_name = container_name(second);
  ASSERT_EQ(::kill(static_cast<pid_t>(server_pid), SIGKILL), 0);
  // The container ends with its init's child; wait for that (bounded) before the next input.
  auto code = client_->container_wait(second, 60s);
  ASSERT_TRUE(code) << code.error().message;
  auto failed = processed(node, "z");
  EXPECT_NE(failed.find("error: node crashy: "), std::string::npos) << failed;
  EXPECT_NE(failed.find(second_name), std::string::npos) << failed;
  node.close();
  DockerNode third(DockerNodeOptions::from_env("crashy", "Crashy", unique("s"), {}, c));
  st = third.initialize();
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_NE(third.container_id(), second);
  EXPECT_EQ(processed(third, "w"), "w!");
  third.close();
  rm::docker::shutdown_shared_containers();
  EXPECT_EQ(containers_owned_by_me(), 0u);
  EXPECT_EQ(files_under(root_), 0u);
}
