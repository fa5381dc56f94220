// Per-chunk cost of the native audio nodes on real speech (tests/fixtures/make_speech.sh),
// called directly (no executor): what one node adds to a 20 ms chunk's journey.
#include <sndfile.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/json/parse.hpp>

#include "runtime/node_registry.hpp"

namespace {

using namespace rm::runtime;

struct Discard final : Emitter {
  Status emit(DataPtr d) override {
    benchmark::DoNotOptimize(d);
    ++count;
    return {};
  }
  std::size_t count = 0;
};

struct Wav {
  std::vector<float> samples;
  std::uint32_t rate = 0;
  std::uint16_t channels = 0;
};

const Wav& speech(const std::string& name) {
  static std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("rm-nodes-bench-" + std::to_string(::getpid()));
    std::string cmd =
        std::string("bash '") + RM_SOURCE_DIR + "/tests/fixtures/make_speech.sh' '" + d.string() + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make_speech.sh failed");
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(
          std::filesystem::temp_directory_path() / ("rm-nodes-bench-" + std::to_string(::getpid())), ec);
    });
    return d;
  }();
  static std::map<std::string, Wav> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  SF_INFO info{};
  SNDFILE* f = sf_open((dir / name).c_str(), SFM_READ, &info);
  if (!f) throw std::runtime_error("cannot open " + name);
  Wav w;
  w.rate = std::uint32_t(info.samplerate);
  w.channels = std::uint16_t(info.channels);
  w.samples.resize(std::size_t(info.frames * info.channels));
  sf_readf_float(f, w.samples.data(), info.frames);
  sf_close(f);
  return cache.emplace(name, std::move(w)).first->second;
}

std::unique_ptr<Node> make(const std::string& type, const std::string& params) {
  const auto* reg = NodeRegistry::instance().find(type);
  auto p = NodeRegistry::instance().validate_params(reg->contract, "bench", boost::json::parse(params));
  if (!p) throw std::runtime_error(p.error().message);
  auto node = reg->factory(NodeInit{"bench", "bench", *p});
  if (!node || !(*node)->initialize()) throw std::runtime_error("cannot build " + type);
  return std::move(*node);
}

// 20 ms chunks of the file, prepared up front; each iteration wraps one in a RuntimeData that
// borrows its samples (no copy, ~50 ns, included in the time) with a timestamp that keeps
// increasing across repetitions of the file, so the stream looks continuous to the node.
void run_chunks(benchmark::State& state, const std::string& type, const std::string& params, const Wav& wav) {
  const std::size_t frames = wav.rate / 50;
  std::vector<std::vector<float>> chunks;
  for (std::size_t f = 0; (f + frames) * wav.channels <= wav.samples.size(); f += frames)
    chunks.emplace_back(wav.samples.begin() + std::ptrdiff_t(f * wav.channels),
                        wav.samples.begin() + std::ptrdiff_t((f + frames) * wav.channels));
  auto node = make(type, params);
  Discard out;
  std::int64_t i = 0;
  for (auto _ : state) {
    const auto& c = chunks[std::size_t(i) % chunks.size()];
    auto d = RuntimeData::make_audio(Bytes::borrow(c.data(), c.size() * sizeof(float), nullptr), wav.rate,
                                     wav.channels, i * 20'000);
    if (!node->process(d, out)) state.SkipWithError("process failed");
    ++i;
  }
  node->close();
  state.counters["outputs_per_chunk"] = double(out.count) / double(i);
  state.SetLabel("20 ms chunk");
}

void BM_AudioResample_48k_mono_to_16k(benchmark::State& s) {
  auto& w = speech("three_words_48k_stereo.wav");
  Wav mono{{}, w.rate, 1};
  for (std::size_t i = 0; i < w.samples.size(); i += 2)
    mono.samples.push_back((w.samples[i] + w.samples[i + 1]) / 2);
  run_chunks(s, "AudioResample",
             R"({"target_rate": 16000, "quality": ")" + std::string(s.range(0) ? "high" : "quick") + "\"}",
             mono);
}
BENCHMARK(BM_AudioResample_48k_mono_to_16k)->Arg(1)->Arg(0)->ArgName("high_quality");

void BM_AudioResample_48k_stereo_to_16k(benchmark::State& s) {
  run_chunks(s, "AudioResample", R"({"target_rate": 16000})", speech("three_words_48k_stereo.wav"));
}
BENCHMARK(BM_AudioResample_48k_stereo_to_16k);

void BM_WebRtcVAD_16k(benchmark::State& s) {
  run_chunks(s, "WebRtcVAD", R"({"frame_ms": )" + std::to_string(s.range(0)) + "}",
             speech("three_words_16k.wav"));
}
BENCHMARK(BM_WebRtcVAD_16k)->Arg(10)->Arg(20)->Arg(30)->ArgName("frame_ms");

void BM_AudioChunker_16k_to_10ms(benchmark::State& s) {
  run_chunks(s, "AudioChunker", R"({"chunk_size": 160})", speech("three_words_16k.wav"));
}
BENCHMARK(BM_AudioChunker_16k_to_10ms);

}  // namespace

BENCHMARK_MAIN();
