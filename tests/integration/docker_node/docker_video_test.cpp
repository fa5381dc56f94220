// 1080p rgb24 frames (6,220,800 bytes each) through VideoInvert (examples/python/nodes) in a
// Docker container and, for comparison, in a host Python process: every frame comes back as its
// exact negative, with no channel size set anywhere (the rings grow with the first frame).
// Label docker; the container uses the image config of docker_node_test.cpp (python:3.11-slim +
// libsndfile1 + rmdemo from a local index), so it reuses that cached image.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "docker/container_manager.hpp"
#include "docker/docker_node.hpp"
#include "process/process_node.hpp"
#include "support/docker_test.hpp"
#include "support/local_index.hpp"
#include "support/video_frames.hpp"

namespace fs = std::filesystem;
using namespace rm::runtime;
using rm::test::FullHdFrames;

namespace {

// Two seconds of 30 fps video.
constexpr std::uint64_t kFrames = 60;

struct Verify : Emitter {
  const FullHdFrames* frames = nullptr;
  std::uint64_t received = 0, exact = 0;
  Status emit(DataPtr d) override {
    exact += frames->matches(*d, received, true);
    ++received;
    return {};
  }
};

std::size_t files_under(const fs::path& root) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    ++n;
  return n;
}

class DockerVideoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { index_ = new rm::test::LocalIndex(); }
  static void TearDownTestSuite() {
    rm::docker::shutdown_shared_containers();
    delete index_;
  }

  void SetUp() override {
    ::unsetenv("RM_DOCKER_SHARE");
    ::unsetenv("RM_DOCKER_FALLBACK");
    ::unsetenv("RM_PROCESS_CHANNEL_BYTES");
    auto c = rm::docker::DockerClient::connect_from_env();
    if (!c) {
      if (rm::test::require_docker()) FAIL() << "RM_REQUIRE_DOCKER=1 but: " << c.error().message;
      GTEST_SKIP() << c.error().message;
    }
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path("/dev/shm") / ("rm-dvideo-" + std::to_string(::getpid()) + "-" + info->name());
    fs::create_directories(root_);
    ::setenv("RM_IPC_DIR", root_.c_str(), 1);
    ::setenv("RM_PIP_INDEX_URL", index_->url().c_str(), 1);
    ::setenv("REMOTEMEDIA_PYTHON", "/usr/bin/python3", 1);
    ::setenv("RM_PYTHON_SDK_DIR", (fs::path(RM_SOURCE_DIR) / "python").c_str(), 1);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  static DockerConfig config() {
    DockerConfig c;
    c.python_version = "3.11";
    c.system_dependencies = {"libsndfile1"};
    c.python_packages = {"rmdemo==1.0"};
    c.resource_limits = {512, 1.0};
    c.shm_size_mb = 64;
    c.env = {{"PYTHONUNBUFFERED", "1"}};
    c.volumes.push_back({(fs::path(RM_SOURCE_DIR) / "examples/python/nodes").string(), "/app/nodes", true});
    return c;
  }

  // Streams kFrames frames through `node`; every one must come back as its exact negative.
  void stream_and_verify(Node& node) {
    auto init = node.initialize();
    ASSERT_TRUE(init) << init.error().message;
    Verify v;
    v.frames = &frames_;
    for (std::uint64_t n = 0; n < kFrames; ++n) {
      auto s = node.process(frames_.frame(n), v);
      ASSERT_TRUE(s) << "frame " << n << ": " << s.error().message;
    }
    ASSERT_TRUE(node.flush(v));
    node.close();
    EXPECT_EQ(v.received, kFrames);
    EXPECT_EQ(v.exact, kFrames);
    EXPECT_EQ(files_under(root_), 0u);
  }

  fs::path root_;
  FullHdFrames frames_;
  static rm::test::LocalIndex* index_;
};

rm::test::LocalIndex* DockerVideoTest::index_ = nullptr;

TEST_F(DockerVideoTest, two_seconds_of_full_hd_rgb_frames_come_back_inverted_from_a_container) {
  rm::docker::DockerNode node(
      rm::docker::DockerNodeOptions::from_env("invert", "VideoInvert", rm::test::unique("v"), {}, config()));
  stream_and_verify(node);
}

TEST_F(DockerVideoTest, the_same_frames_come_back_inverted_from_a_host_python_process) {
  auto o = rm::process::ProcessNodeOptions::from_env("invert", "VideoInvert", rm::test::unique("v"), {});
  o.node_path = {fs::path(RM_SOURCE_DIR) / "examples/python/nodes"};
  rm::process::ProcessNode node(std::move(o));
  stream_and_verify(node);
}

}  // namespace
