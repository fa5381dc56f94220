// Host -> Python node -> host echo round trip of a 20 ms audio chunk (16 kHz mono, 320 f32),
// through a real ProcessNode running the SDK's Echo node. Prints p50/p99/p99.9 in microseconds.
//   bench_python_echo [iterations=20000] [python=/usr/bin/python3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "process/process_node.hpp"

using namespace rm::runtime;

struct Keep : Emitter {
  DataPtr last;
  Status emit(DataPtr d) override {
    last = std::move(d);
    return {};
  }
};

int main(int argc, char** argv) {
  int iters = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::string python = argc > 2 ? argv[2] : "/usr/bin/python3";
  auto root = std::filesystem::path("/dev/shm") / ("rm-bench-echo-" + std::to_string(::getpid()));
  auto o = rm::process::ProcessNodeOptions::from_env("echo", "Echo", "bench", {});
  o.python = python;
  o.sdk_dir = std::filesystem::path(RM_SOURCE_DIR) / "python";
  o.ipc_root = root;
  rm::process::ProcessNode node(o);
  if (auto s = node.initialize(); !s) {
    std::fprintf(stderr, "initialize failed: %s\n", s.error().message.c_str());
    return 1;
  }
  auto chunk = RuntimeData::make_audio(std::vector<float>(320, 0.25f), 16000, 1, 0);
  Keep out;
  for (int i = 0; i < 500; ++i) (void)node.process(chunk, out);  // warm-up
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iters));
  for (int i = 0; i < iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto s = node.process(chunk, out);
    auto t1 = std::chrono::steady_clock::now();
    if (!s || !out.last || !out.last->audio()) {
      std::fprintf(stderr, "round trip %d failed: %s\n", i, s ? "no output" : s.error().message.c_str());
      return 1;
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  node.close();
  std::filesystem::remove_all(root);
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<std::size_t>(p * static_cast<double>(us.size() - 1))]; };
  std::printf(
      "python echo round trip, 20 ms chunk (1280 B audio), %d iterations: "
      "p50 %.1f us, p99 %.1f us, p99.9 %.1f us, min %.1f us\n",
      iters, pct(0.5), pct(0.99), pct(0.999), us.front());
  return 0;
}
