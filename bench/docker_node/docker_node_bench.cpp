// Docker node vs the same node as a host process, and session start to READY.
//   bench_docker_node [iterations=5000] [starts=10] [warm_starts=100]
// 1. Round trip host -> SDK Echo node -> host of a 20 ms audio chunk (16 kHz mono, 320 f32),
//    once through a ProcessNode (host python3) and once through a DockerNode (python:3.11-slim
//    container, same SDK mounted); p50/p99 in microseconds for both.
// 2. initialize() (start to READY) of a DockerNode with the image already cached: a new
//    container per start, and a runner forked by the resident runner server of a warm shared
//    container (RM_DOCKER_SHARE); p50/p95/min in milliseconds.
// Needs a running dockerd with python:3.11-slim (scripts/docker-up.sh). Prints one line each.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "docker/docker_node.hpp"
#include "process/process_node.hpp"

using namespace rm::runtime;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Keep : Emitter {
  DataPtr last;
  Status emit(DataPtr d) override {
    last = std::move(d);
    return {};
  }
};

struct Stats {
  double p50, p95, p99, min;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))]; };
  return {pct(0.5), pct(0.95), pct(0.99), v.front()};
}

bool round_trips(Node& node, int iters, std::vector<double>& us) {
  auto chunk = RuntimeData::make_audio(std::vector<float>(320, 0.25f), 16000, 1, 0);
  Keep out;
  for (int i = 0; i < 500; ++i) (void)node.process(chunk, out);  // warm-up
  for (int i = 0; i < iters; ++i) {
    auto t0 = Clock::now();
    auto s = node.process(chunk, out);
    auto t1 = Clock::now();
    if (!s || !out.last || !out.last->audio()) {
      std::fprintf(stderr, "round trip %d failed: %s\n", i, s ? "no output" : s.error().message.c_str());
      return false;
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return true;
}

DockerConfig bare_config() {
  DockerConfig c;
  c.python_version = "3.11";
  c.resource_limits = {256, 1.0};
  c.shm_size_mb = 64;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int starts = argc > 2 ? std::atoi(argv[2]) : 10;
  const int warm_starts = argc > 3 ? std::atoi(argv[3]) : 100;
  const auto root = fs::path("/dev/shm") / ("rm-bench-dnode-" + std::to_string(::getpid()));
  ::setenv("RM_IPC_DIR", root.c_str(), 1);
  ::setenv("RM_PYTHON_SDK_DIR", (fs::path(RM_SOURCE_DIR) / "python").c_str(), 1);
  ::setenv("REMOTEMEDIA_PYTHON", "/usr/bin/python3", 1);

  std::vector<double> host_us, docker_us;
  {
    rm::process::ProcessNode node(
        rm::process::ProcessNodeOptions::from_env("echo", "Echo", "bench-host", {}));
    if (auto s = node.initialize(); !s) {
      std::fprintf(stderr, "host node: %s\n", s.error().message.c_str());
      return 1;
    }
    if (!round_trips(node, iters, host_us)) return 1;
    node.close();
  }
  {
    rm::docker::DockerNode node(
        rm::docker::DockerNodeOptions::from_env("echo", "Echo", "bench-docker", {}, bare_config()));
    if (auto s = node.initialize(); !s) {
      std::fprintf(stderr, "docker node: %s\n", s.error().message.c_str());
      return 1;
    }
    if (!round_trips(node, iters, docker_us)) return 1;
    node.close();
  }
  auto h = stats(host_us), d = stats(docker_us);
  std::printf(
      "echo round trip, 20 ms chunk, %d iterations: host process p50 %.1f us p99 %.1f us | "
      "docker p50 %.1f us p99 %.1f us | difference p50 %+.1f us\n",
      iters, h.p50, h.p99, d.p50, d.p99, d.p50 - h.p50);

  auto time_starts = [&](bool share, int n) {
    std::vector<double> ms;
    ::setenv("RM_DOCKER_SHARE", share ? "1" : "0", 1);
    for (int i = 0; i < n; ++i) {
      rm::docker::DockerNode node(rm::docker::DockerNodeOptions::from_env(
          "echo", "Echo", "bench-start-" + std::to_string(i), {}, bare_config()));
      auto t0 = Clock::now();
      auto s = node.initialize();
      auto t1 = Clock::now();
      if (!s) {
        std::fprintf(stderr, "start %d: %s\n", i, s.error().message.c_str());
        return std::vector<double>{};
      }
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      node.close();
    }
    return ms;
  };
  auto fresh = time_starts(false, starts);
  (void)time_starts(true, 1);  // creates the shared container, which then stays warm
  auto warm = time_starts(true, warm_starts);
  rm::docker::shutdown_shared_containers();
  fs::remove_all(root);
  if (fresh.empty() || warm.empty()) return 1;
  auto f = stats(fresh), w = stats(warm);
  std::printf(
      "start to READY, cached image: new container (%d starts) p50 %.0f ms p95 %.0f ms "
      "(min %.0f) | warm shared container, runner server (%d starts) p50 %.1f ms p95 %.1f ms "
      "(min %.1f)\n",
      starts, f.p50, f.p95, f.min, warm_starts, w.p50, w.p95, w.min);
  return 0;
}
