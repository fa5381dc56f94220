#pragma once
// Shared by the tests that need a real dockerd (label "docker").
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace rm::test {

// CI sets RM_REQUIRE_DOCKER=1: a Docker test that would skip for want of a daemon fails instead.
inline bool require_docker() {
  const char* v = std::getenv("RM_REQUIRE_DOCKER");
  return v != nullptr && std::string(v) == "1";
}

// A name no other test process or earlier run uses: prefix + pid + counter + random, made only
// of characters valid in session ids, container names and image tags.
inline std::string unique(const std::string& prefix) {
  static std::atomic<int> n{0};
  std::random_device rd;
  return prefix + std::to_string(::getpid()) + "x" + std::to_string(n++) + "x" +
         std::to_string(rd() % 100000);
}

// The directories a Docker node test runs in, and the environment that points the runtime at
// them: a fresh IPC root /dev/shm/<prefix>-<pid>-<test name> (RM_IPC_DIR), a work directory
// with nodes/ (the manifests mount it at /app/nodes), the local package index
// (RM_PIP_INDEX_URL), the host's Python and the SDK. Returns (IPC root, work directory).
inline std::pair<std::filesystem::path, std::filesystem::path> make_node_test_dirs(
    const std::string& prefix, const std::string& index_url) {
  namespace fs = std::filesystem;
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto root = fs::path("/dev/shm") / (prefix + "-" + std::to_string(::getpid()) + "-" + info->name());
  fs::create_directories(root);
  auto work = fs::temp_directory_path() / unique(prefix + "-work-");
  fs::create_directories(work / "nodes");
  ::setenv("RM_IPC_DIR", root.c_str(), 1);
  ::setenv("RM_PIP_INDEX_URL", index_url.c_str(), 1);
  ::setenv("REMOTEMEDIA_PYTHON", "/usr/bin/python3", 1);
  ::setenv("RM_PYTHON_SDK_DIR", (fs::path(RM_SOURCE_DIR) / "python").c_str(), 1);
  return {root, work};
}

}  // namespace rm::test
