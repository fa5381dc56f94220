// The SileroVAD node: contract and seed manifest, errors, windowing of any chunk size, outputs
// identical to the shared SpeechSegmenter fed onnxruntime's probabilities, resampling, reset.
#include <algorithm>
#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <soxr.h>
#include <boost/json.hpp>

#include "nodes/silero_vad.hpp"
#include "nodes/speech_segmenter.hpp"
#include "runtime/manifest.hpp"
#include "runtime/node_registry.hpp"
#include "silero_test_util.hpp"

namespace {

using namespace rm::runtime;
using rm::nodes::SileroVadNode;
using rm::nodes::SpeechSegmenter;
using rm::nodes::SpeechSegmenterConfig;
using silero_test::Collect;

const NodeRegistration& registration() {
  const auto* r = NodeRegistry::instance().find("SileroVAD");
  if (r == nullptr) throw std::runtime_error("SileroVAD is not registered");
  return *r;
}

boost::json::object params(boost::json::object extra = {}) {
  if (!extra.contains("weights_path")) extra["weights_path"] = silero_test::weights_path().string();
  auto v = NodeRegistry::instance().validate_params(registration().contract, "vad", extra);
  if (!v) throw std::runtime_error(v.error().message);
  return *v;
}

std::unique_ptr<Node> make_node(boost::json::object p, const std::string& id = "vad") {
  auto n =
      registration().factory(NodeInit{.node_id = id, .session_id = "silero-test", .params = std::move(p)});
  if (!n) throw std::runtime_error(n.error().message);
  return std::move(*n);
}

// Feeds `audio` (mono at `rate`) in chunks of `chunk` samples, then flushes.
std::vector<DataPtr> run(Node& node, const std::vector<float>& audio, std::uint32_t rate, std::size_t chunk,
                         std::int64_t base_us = 0) {
  Collect out;
  for (std::size_t i = 0; i < audio.size(); i += chunk) {
    const std::size_t n = std::min(chunk, audio.size() - i);
    const auto ts = base_us + static_cast<std::int64_t>(i) * 1'000'000 / rate;
    auto st = node.process(
        RuntimeData::make_audio(std::vector<float>(audio.begin() + static_cast<std::ptrdiff_t>(i),
                                                   audio.begin() + static_cast<std::ptrdiff_t>(i + n)),
                                rate, 1, ts),
        out);
    EXPECT_TRUE(st) << st.error().message;
  }
  auto st = node.flush(out);
  EXPECT_TRUE(st) << st.error().message;
  return out.items;
}

// A comparable summary of an output sequence: kind, timestamp, payload bounds, sample count.
std::vector<std::string> summary(const std::vector<DataPtr>& items) {
  std::vector<std::string> s;
  for (const auto& d : items) {
    std::string line = std::string(to_string(d->type)) + "@" + std::to_string(d->timestamp_us);
    if (const auto* c = d->control()) line += " " + c->kind + " " + boost::json::serialize(c->payload);
    if (const auto* a = d->audio()) {
      line += " rate=" + std::to_string(a->sample_rate) + " n=" + std::to_string(a->frames());
    }
    s.push_back(line);
  }
  return s;
}

TEST(SileroVadNode, is_registered_and_the_seed_params_validate_with_upstream_defaults) {
  auto v = NodeRegistry::instance().validate_params(registration().contract, "vad",
                                                    boost::json::parse(R"({"threshold": 0.5})"));
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->at("threshold").as_double(), 0.5);
  EXPECT_EQ(v->at("min_speech_duration_ms").as_int64(), 250);
  EXPECT_EQ(v->at("min_silence_duration_ms").as_int64(), 100);
  EXPECT_EQ(v->at("speech_pad_ms").as_int64(), 30);
  auto bad = NodeRegistry::instance().validate_params(registration().contract, "vad",
                                                      boost::json::parse(R"({"threshold": 1.5})"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("threshold"), std::string::npos);
}

TEST(SileroVadNode, the_seed_transcription_manifest_validates) {
  const char* yaml = R"(
version: "v1"
metadata:
  name: "transcription-pipeline"
  description: "Audio transcription with Docker-based OmniASR node"
nodes:
  - id: transcribe
    node_type: OmniASRNode
    is_streaming: true
    docker:
      python_version: "3.11"
      system_dependencies: ["ffmpeg", "libsndfile1"]
      python_packages: ["numpy==1.24.0", "omnilingual_asr==0.1.0", "iceoryx2"]
      resource_limits:
        memory_mb: 4096
        cpu_cores: 2.0
  - id: vad
    node_type: SileroVAD
    is_streaming: true
    params:
      threshold: 0.5
connections:
  - from: "audio_source"
    to: "vad"
  - from: "vad"
    to: "transcribe"
)";
  auto m = Manifest::from_string(yaml);
  ASSERT_TRUE(m) << m.error().to_string();
  const auto* vad = m->find_node("vad");
  ASSERT_NE(vad, nullptr);
  EXPECT_EQ(vad->kind, NodeKind::native);
  EXPECT_EQ(vad->resolved_params.at("threshold").as_double(), 0.5);
  EXPECT_EQ(vad->resolved_params.at("speech_pad_ms").as_int64(), 30);
}

TEST(SileroVadNode, a_model_rate_other_than_8k_or_16k_is_rejected_by_name) {
  auto n = registration().factory(
      NodeInit{.node_id = "vad-rate", .session_id = "s", .params = params({{"model_rate", 11025}})});
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, NodeErrorCode::invalid_params);
  EXPECT_NE(n.error().message.find("vad-rate"), std::string::npos);
  EXPECT_NE(n.error().message.find("model_rate"), std::string::npos);
}

TEST(SileroVadNode, missing_weights_fail_initialize_with_the_path_and_the_fix) {
  auto node = make_node(params({{"weights_path", "/nonexistent/silero.rmw"}}), "vad-missing");
  auto st = node->initialize();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, NodeErrorCode::init_failed);
  EXPECT_NE(st.error().message.find("vad-missing"), std::string::npos);
  EXPECT_NE(st.error().message.find("/nonexistent/silero.rmw"), std::string::npos);
  EXPECT_NE(st.error().message.find("fetch-silero-model.sh"), std::string::npos);
}

TEST(SileroVadNode, probabilities_over_odd_chunks_match_onnxruntime) {
  SILERO_REQUIRE_MODEL();
  for (auto [name, rate, chunk] :
       {std::tuple{"speech16", 16000U, 333U}, std::tuple{"speech8", 8000U, 1001U}}) {
    auto node = make_node(params());
    auto& vad = dynamic_cast<SileroVadNode&>(*node);
    vad.keep_probabilities(true);
    ASSERT_TRUE(node->initialize());
    const auto audio = silero_test::read_f32(silero_test::ref_dir() / (std::string(name) + ".f32"));
    const auto ref = silero_test::read_f32(silero_test::ref_dir() / (std::string(name) + ".probs"));
    run(*node, audio, rate, chunk);
    const auto& probs = vad.probabilities();
    // The node also runs the zero-padded trailing partial window, which the oracle drops.
    ASSERT_GE(probs.size(), ref.size()) << name;
    double worst = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(probs[i]) - ref[i]));
    }
    EXPECT_LE(worst, 1e-4) << name;
  }
}

TEST(SileroVadNode, outputs_equal_the_shared_segmenter_fed_onnxruntime_probabilities) {
  SILERO_REQUIRE_MODEL();
  const auto audio = silero_test::read_f32(silero_test::ref_dir() / "speech16.f32");
  const auto ref = silero_test::read_f32(silero_test::ref_dir() / "speech16.probs");
  auto node = make_node(params());
  ASSERT_TRUE(node->initialize());
  const std::int64_t base = 5'000'000;
  const auto got = run(*node, audio, 16000, 4000, base);

  SpeechSegmenterConfig cfg;
  cfg.sample_rate = 16000;
  cfg.threshold = 0.5F;
  cfg.metadata["detector"] = "silero";
  cfg.metadata["node"] = "vad";
  SpeechSegmenter seg(cfg);
  Collect expected;
  const std::size_t w = 512;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(seg.push({audio.data() + i * w, w}, ref[i], base, expected));
  }
  // The node's last, zero-padded partial window: feed the segmenter the node's own decision
  // for it would need the model, so compare only when there is no partial tail.
  ASSERT_EQ(audio.size() % w, audio.size() - ref.size() * w);
  if (audio.size() % w == 0) {
    ASSERT_TRUE(seg.finish(expected));
  }

  const auto a = summary(got);
  const auto e = summary(expected.items);
  // Every segment the reference closed appears identically in the node's output.
  ASSERT_GE(a.size(), e.size());
  for (std::size_t i = 0; i < e.size(); ++i) EXPECT_EQ(a[i], e[i]) << "output " << i;
  std::size_t segments = 0;
  for (const auto& d : got) {
    if (d->audio()) {
      ++segments;
      EXPECT_EQ(d->audio()->sample_rate, 16000U);
      EXPECT_EQ(d->metadata.at("detector").as_string(), "silero");
    }
  }
  EXPECT_GE(segments, 3U) << "three utterances separated by >= 300 ms of silence";
  // Each segment: speech_start, audio, speech_end, in that order.
  for (std::size_t i = 0; i + 2 < got.size(); i += 3) {
    ASSERT_NE(got[i]->control(), nullptr);
    EXPECT_EQ(got[i]->control()->kind, "speech_start");
    EXPECT_NE(got[i + 1]->audio(), nullptr);
    ASSERT_NE(got[i + 2]->control(), nullptr);
    EXPECT_EQ(got[i + 2]->control()->kind, "speech_end");
    EXPECT_GE(got[i]->timestamp_us, base);
  }
}

TEST(SileroVadNode, noise_and_silence_produce_no_segments) {
  SILERO_REQUIRE_MODEL();
  for (auto [name, rate] : {std::pair{"noise16", 16000U}, std::pair{"noise8", 8000U}}) {
    auto node = make_node(params());
    ASSERT_TRUE(node->initialize());
    const auto audio = silero_test::read_f32(silero_test::ref_dir() / (std::string(name) + ".f32"));
    EXPECT_TRUE(run(*node, audio, rate, 1600).empty()) << name;
  }
}

TEST(SileroVadNode, chunk_size_does_not_change_the_outputs) {
  SILERO_REQUIRE_MODEL();
  const auto audio = silero_test::read_f32(silero_test::ref_dir() / "speech16.f32");
  std::vector<std::string> first;
  for (std::size_t chunk : {7U, 512U, 4096U, 48000U}) {
    auto node = make_node(params());
    ASSERT_TRUE(node->initialize());
    const auto s = summary(run(*node, audio, 16000, chunk));
    if (first.empty()) {
      first = s;
      ASSERT_FALSE(first.empty());
    } else {
      EXPECT_EQ(s, first) << "chunk " << chunk;
    }
  }
}

TEST(SileroVadNode, a_new_stream_after_flush_starts_from_fresh_state) {
  SILERO_REQUIRE_MODEL();
  const auto audio = silero_test::read_f32(silero_test::ref_dir() / "speech8.f32");
  auto node = make_node(params());
  ASSERT_TRUE(node->initialize());
  const auto a = summary(run(*node, audio, 8000, 800, 0));
  const auto b = summary(run(*node, audio, 8000, 800, 0));
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.empty());
}

TEST(SileroVadNode, other_rates_are_resampled_and_find_the_same_speech) {
  SILERO_REQUIRE_MODEL();
  const auto audio16 = silero_test::read_f32(silero_test::ref_dir() / "speech16.f32");
  std::vector<float> audio48(audio16.size() * 3 + 16);
  std::size_t odone = 0;
  ASSERT_EQ(soxr_oneshot(16000, 48000, 1, audio16.data(), audio16.size(), nullptr, audio48.data(),
                         audio48.size(), &odone, nullptr, nullptr, nullptr),
            nullptr);
  audio48.resize(odone);
  auto n16 = make_node(params());
  auto n48 = make_node(params());
  ASSERT_TRUE(n16->initialize());
  ASSERT_TRUE(n48->initialize());
  const auto r16 = run(*n16, audio16, 16000, 1600);
  const auto r48 = run(*n48, audio48, 48000, 4800);
  auto spans = [](const std::vector<DataPtr>& items) {
    std::vector<std::pair<std::int64_t, std::int64_t>> s;
    for (const auto& d : items) {
      if (const auto* c = d->control(); c && c->kind == "speech_end") {
        s.emplace_back(c->payload.at("start_us").as_int64(), c->payload.at("end_us").as_int64());
      }
      if (const auto* a = d->audio()) {
        EXPECT_EQ(a->sample_rate, 16000U);
      }
    }
    return s;
  };
  const auto s16 = spans(r16);
  const auto s48 = spans(r48);
  ASSERT_FALSE(s48.empty());
  std::int64_t total16 = 0;
  std::int64_t total48 = 0;
  for (auto [b, e] : s16) total16 += e - b;
  for (auto [b, e] : s48) {
    total48 += e - b;
    const bool overlaps =
        std::any_of(s16.begin(), s16.end(), [&](auto x) { return x.first < e && b < x.second; });
    EXPECT_TRUE(overlaps) << "48 kHz segment " << b << ".." << e << " has no 16 kHz counterpart";
  }
  EXPECT_NEAR(static_cast<double>(total48), static_cast<double>(total16), 0.1 * total16);
}

TEST(SileroVadNode, bad_input_gets_a_clear_error_and_control_passes_through) {
  SILERO_REQUIRE_MODEL();
  auto node = make_node(params(), "vad-bad");
  ASSERT_TRUE(node->initialize());
  Collect out;
  auto st = node->process(RuntimeData::make_text("hello", 0), out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, NodeErrorCode::invalid_input);
  EXPECT_NE(st.error().message.find("vad-bad"), std::string::npos);
  EXPECT_NE(st.error().message.find("text"), std::string::npos);

  auto ctl = RuntimeData::make_control("marker", {}, 0);
  ASSERT_TRUE(node->process(ctl, out));
  ASSERT_EQ(out.items.size(), 1U);
  EXPECT_EQ(out.items[0], ctl);

  ASSERT_TRUE(node->process(RuntimeData::make_audio(std::vector<float>(800, 0.0F), 16000, 1, 0), out));
  st = node->process(RuntimeData::make_audio(std::vector<float>(800, 0.0F), 22050, 1, 50'000), out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, NodeErrorCode::invalid_input);
  EXPECT_NE(st.error().message.find("AudioResample"), std::string::npos);

  auto fresh = make_node(params());
  ASSERT_TRUE(fresh->initialize());
  st = fresh->process(RuntimeData::make_audio(std::vector<float>(10, 0.0F), 0, 1, 0), out);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("sample_rate 0"), std::string::npos);
}

TEST(SileroVadNode, stereo_input_is_averaged_to_mono) {
  SILERO_REQUIRE_MODEL();
  const auto mono = silero_test::read_f32(silero_test::ref_dir() / "speech16.f32");
  std::vector<float> stereo(mono.size() * 2);
  for (std::size_t i = 0; i < mono.size(); ++i) {
    stereo[2 * i] = mono[i];
    stereo[2 * i + 1] = mono[i];
  }
  auto a = make_node(params());
  auto b = make_node(params());
  ASSERT_TRUE(a->initialize());
  ASSERT_TRUE(b->initialize());
  Collect out;
  for (std::size_t i = 0; i < mono.size(); i += 1600) {
    const std::size_t n = std::min<std::size_t>(1600, mono.size() - i);
    const auto ts = static_cast<std::int64_t>(i) * 1'000'000 / 16000;
    ASSERT_TRUE(b->process(
        RuntimeData::make_audio(std::vector<float>(stereo.begin() + static_cast<std::ptrdiff_t>(2 * i),
                                                   stereo.begin() + static_cast<std::ptrdiff_t>(2 * (i + n))),
                                16000, 2, ts),
        out));
  }
  ASSERT_TRUE(b->flush(out));
  EXPECT_EQ(summary(out.items), summary(run(*a, mono, 16000, 1600)));
}

TEST(SileroVadNode, per_stream_state_stays_under_100_kb) {
  SILERO_REQUIRE_MODEL();
  auto node = make_node(params());
  ASSERT_TRUE(node->initialize());
  const auto audio = silero_test::read_f32(silero_test::ref_dir() / "noise16.f32");
  Collect out;
  for (std::size_t i = 0; i + 512 <= audio.size(); i += 512) {
    ASSERT_TRUE(node->process(
        RuntimeData::make_audio(std::vector<float>(audio.begin() + static_cast<std::ptrdiff_t>(i),
                                                   audio.begin() + static_cast<std::ptrdiff_t>(i + 512)),
                                16000, 1, 0),
        out));
  }
  EXPECT_LT(dynamic_cast<SileroVadNode&>(*node).stream_state_bytes(), 100U * 1024U);
}

}  // namespace
