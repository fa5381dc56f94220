#pragma once
// The fixture of the seed's Docker stories (label docker): a real dockerd, a local package
// index, a fresh IPC directory in /dev/shm and a work directory whose nodes/ folder the
// manifests mount at /app/nodes; helpers to run the CLI and to list a node's containers.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "docker/client.hpp"
#include "docker/container_manager.hpp"
#include "media/audio_file.hpp"
#include "runtime/executor.hpp"
#include "support/docker_test.hpp"
#include "support/local_index.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace rm::runtime;
using rm::docker::DockerClient;
using rm::test::LocalIndex;
using rm::test::unique;

namespace rm::test::seed {

inline DataPtr chunk(float value, std::int64_t ts, std::size_t n = 320) {
  return RuntimeData::make_audio(std::vector<float>(n, value), 16000, 1, ts);
}

inline std::string str(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Runs a program, returns (exit code, stdout+stderr).
inline std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

inline std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

}  // namespace rm::test::seed

class DockerSeedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { index_ = new LocalIndex(); }
  static void TearDownTestSuite() { delete index_; }

  void SetUp() override {
    ::unsetenv("RM_DOCKER_SHARE");
    ::unsetenv("RM_DOCKER_KEEP");
    auto c = DockerClient::connect_from_env();
    if (!c) {
      if (rm::test::require_docker()) FAIL() << "RM_REQUIRE_DOCKER=1 but: " << c.error().message;
      GTEST_SKIP() << c.error().message;
    }
    client_.emplace(std::move(*c));
    std::tie(root_, work_) = rm::test::make_node_test_dirs("rm-dseed", index_->url());
  }
  void TearDown() override {
    for (const auto& id : kept_) (void)client_->container_remove(id, true, true);
    std::error_code ec;
    fs::remove_all(root_, ec);
    fs::remove_all(work_, ec);
  }

  // A manifest in work_ whose nodes mount work_/nodes at /app/nodes.
  fs::path write_manifest(const std::string& name, const std::string& yaml) {
    const auto p = work_ / name;
    std::ofstream(p) << yaml;
    return p;
  }
  void write_node(const std::string& file, const std::string& code) {
    std::ofstream(work_ / "nodes" / file) << code;
  }
  // <name>.yaml in work_: one docker node `node` of `node_type` (docker_block()) fed by
  // audio_source.
  fs::path one_node_manifest(const std::string& name, const std::string& node, const std::string& node_type) {
    return write_manifest(name + ".yaml", fmt::format(R"(version: v1
nodes:
  - id: {}
    node_type: {}
{}connections:
  - {{from: audio_source, to: {}}}
)",
                                                      node, node_type, docker_block(), node));
  }
  // nodes/echo.py: class Echo yields what it gets.
  void write_echo_node() {
    write_node("echo.py", R"PY(
from remotemedia.nodes import MultiprocessNode
class Echo(MultiprocessNode):
    async def process(self, data):
        yield data
)PY");
  }
  // work_/in.wav (0.1 s of 16 kHz mono at 0.25), for the CLI's --input.
  fs::path input_wav() {
    const auto p = work_ / "in.wav";
    EXPECT_TRUE(rm::media::write_wav(p, std::vector<float>(1600, 0.25f), 16000, 1));
    return p;
  }
  static std::string remotemedia_cli() {
    return std::string(RM_BINARY_DIR) + "/apps/remotemedia/remotemedia";
  }
  static std::string docker_block(const std::string& python = "3.11") {
    return fmt::format(R"(    docker:
      python_version: "{}"
      python_packages: ["rmdemo==1.0"]
      resource_limits: {{memory_mb: 256, cpu_cores: 1.0}}
      shm_size_mb: 64
      volumes:
        - {{host_path: "./nodes", container_path: "/app/nodes", read_only: true}}
)",
                       python);
  }

  std::vector<rm::docker::ContainerSummary> containers_of_node(const std::string& node_id) {
    auto l = client_->container_list({{std::string(rm::docker::kLabelNode), node_id}}, true);
    EXPECT_TRUE(l) << (l ? "" : l.error().message);
    return l ? *l : std::vector<rm::docker::ContainerSummary>{};
  }

  std::optional<DockerClient> client_;
  fs::path root_, work_;
  std::vector<std::string> kept_;  // containers a test kept on purpose, removed in TearDown
  static inline LocalIndex* index_ = nullptr;
};
