#pragma once
// Shared by the tests that need a real dockerd (label "docker").
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <string>

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

}  // namespace rm::test
