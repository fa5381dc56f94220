// WebRtcVAD: voice activity detection with the WebRTC VAD (libwebrtc-audio-processing), turned
// into speech segments and start/end events by SpeechSegmenter (see nodes/speech_segmenter.hpp
// for the exact rule and outputs).
//
// Guarantees: input of any chunk size is buffered into frame_ms frames; multi-channel input is
// averaged to mono first; the detector's state is reset at end of stream. Only 8, 16, 32 and
// 48 kHz are accepted (the detector's own rates); any other rate is an error that says to put
// AudioResample in front. A trailing partial frame at end of stream counts as non-speech.
// The WebRTC detector has a built-in hangover (it reports speech for a few frames, up to ~100 ms,
// after speech stops), which segment ends inherit.
// Non-audio inputs are forwarded unchanged.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "detail/audio_util.hpp"
#include "detail/webrtc_vad_api.hpp"
#include "nodes/speech_segmenter.hpp"
#include "runtime/node_registry.hpp"

namespace rm::nodes {
namespace {

using namespace rm::runtime;

struct VadDeleter {
  void operator()(WebRtcVadInst* v) const { WebRtcVad_Free(v); }
};

SpeechSegmenterConfig segmenter_config(const NodeInit& init) {
  SpeechSegmenterConfig c;
  c.sample_rate = 16000;  // replaced by the stream's rate on the first input
  c.threshold = 0.5f;     // the WebRTC VAD decides yes/no; fed as 1.0 / 0.0
  c.min_speech_ms = param_int(init.params, "min_speech_ms");
  c.min_silence_ms = param_int(init.params, "min_silence_ms");
  c.padding_ms = param_int(init.params, "padding_ms");
  c.emit_audio = param_bool(init.params, "emit_audio");
  c.emit_events = param_bool(init.params, "emit_events");
  c.stream_audio = param_bool(init.params, "stream_audio");
  c.metadata["detector"] = "webrtc";
  c.metadata["node_id"] = init.node_id;
  return c;
}

class WebRtcVAD final : public Node {
 public:
  explicit WebRtcVAD(const NodeInit& init)
      : id_(init.node_id),
        mode_(int(param_int(init.params, "aggressiveness"))),
        frame_ms_(param_int(init.params, "frame_ms")),
        config_(segmenter_config(init)) {
    if (frame_ms_ != 10 && frame_ms_ != 20 && frame_ms_ != 30)
      throw std::invalid_argument(
          "params.frame_ms must be 10, 20 or 30 (the WebRTC VAD's frame sizes), got " +
          std::to_string(frame_ms_));
  }

  Status initialize() override {
    vad_.reset(WebRtcVad_Create());
    if (!vad_ || WebRtcVad_Init(vad_.get()) != 0 || WebRtcVad_set_mode(vad_.get(), mode_) != 0)
      return node_error(NodeErrorCode::init_failed,
                        fmt::format("node {}: cannot create the WebRTC VAD", id_));
    return {};
  }

  Status process(const DataPtr& in, Emitter& out) override {
    if (!in->audio()) return out.emit(in);
    if (auto st = detail::check_audio(*in, id_, "WebRtcVAD"); !st) return st;
    const Audio& a = *in->audio();
    if (a.sample_rate != 8000 && a.sample_rate != 16000 && a.sample_rate != 32000 && a.sample_rate != 48000)
      return node_error(
          NodeErrorCode::invalid_input,
          fmt::format("node {}: WebRtcVAD needs 8000, 16000, 32000 or 48000 Hz audio, got {} Hz; put an "
                      "AudioResample node (target_rate: 16000) before it",
                      id_, a.sample_rate));
    if (!segmenter_) {
      rate_ = a.sample_rate;
      frame_len_ = std::size_t(rate_) * std::size_t(frame_ms_) / 1000;
      config_.sample_rate = rate_;
      segmenter_.emplace(config_);
      base_ts_ = in->timestamp_us;
      frames_fed_ = 0;
    } else if (a.sample_rate != rate_) {
      return node_error(NodeErrorCode::invalid_input,
                        fmt::format("node {}: sample rate changed from {} to {} Hz within one stream; put an "
                                    "AudioResample node before WebRtcVAD",
                                    id_, rate_, a.sample_rate));
    }
    const auto v = a.view();
    const std::size_t ch = a.channels;
    for (std::size_t f = 0; f < a.frames(); ++f) {
      float s = v[f * ch];
      if (ch > 1) {
        for (std::size_t c = 1; c < ch; ++c) s += v[f * ch + c];
        s /= float(ch);
      }
      pending_.push_back(s);
      if (pending_.size() == frame_len_) {
        if (auto st = run_frame(out); !st) return st;
      }
    }
    return {};
  }

  Status flush(Emitter& out) override {
    if (!segmenter_) return {};
    Status st;
    if (!pending_.empty()) {
      st = segmenter_->push(pending_, false, frame_ts(), out);
      pending_.clear();
    }
    if (st) st = segmenter_->finish(out);
    segmenter_.reset();
    if (vad_) WebRtcVad_Init(vad_.get()), WebRtcVad_set_mode(vad_.get(), mode_);
    return st;
  }

  void close() override { vad_.reset(); }

 private:
  std::int64_t frame_ts() const { return detail::frame_time_us(base_ts_, frames_fed_, rate_); }

  Status run_frame(Emitter& out) {
    pcm_.resize(pending_.size());
    for (std::size_t i = 0; i < pending_.size(); ++i)
      pcm_[i] = std::int16_t(std::lrint(std::clamp(pending_[i], -1.0f, 1.0f) * 32767.0f));
    const int r = WebRtcVad_Process(vad_.get(), int(rate_), pcm_.data(), pcm_.size());
    if (r < 0)
      return node_error(NodeErrorCode::process_failed,
                        fmt::format("node {}: the WebRTC VAD rejected a {}-sample frame at {} Hz", id_,
                                    pcm_.size(), rate_));
    auto st = segmenter_->push(pending_, r == 1, frame_ts(), out);
    frames_fed_ += std::int64_t(pending_.size());
    pending_.clear();
    return st;
  }

  std::string id_;
  int mode_;
  std::int64_t frame_ms_;
  SpeechSegmenterConfig config_;
  std::unique_ptr<WebRtcVadInst, VadDeleter> vad_;
  std::optional<SpeechSegmenter> segmenter_;
  std::uint32_t rate_ = 0;
  std::size_t frame_len_ = 0;
  std::int64_t base_ts_ = 0;
  std::int64_t frames_fed_ = 0;
  std::vector<float> pending_;
  std::vector<std::int16_t> pcm_;
};

NodeContract webrtc_vad_contract() {
  return NodeContract{
      .node_type = "WebRtcVAD",
      .description =
          "Detects speech with the WebRTC voice activity detector and emits each speech segment as mono "
          "audio "
          "(metadata start_us, end_us, duration_ms, segment_index) between a speech_start and a speech_end "
          "control "
          "event. Accepts 8, 16, 32 or 48 kHz audio of any chunk size and channel count (channels are "
          "averaged); "
          "put AudioResample before it for other rates. Speech shorter than min_speech_ms is ignored, pauses "
          "shorter than min_silence_ms do not end a segment, and segments are widened by padding_ms on each "
          "side. "
          "The detector itself keeps reporting speech for up to about 100 ms after it stops, so segment ends "
          "fall that much later than the last word.",
      .accepts = {DataType::audio},
      .emits = {DataType::audio, DataType::control},
      .params =
          {
              ParamSpec{.name = "aggressiveness",
                        .type = ParamType::integer,
                        .default_value = 2,
                        .description =
                            "How aggressively non-speech is filtered out: 0 (least, keeps more audio as "
                            "speech) to 3 (most, best in noise).",
                        .min = 0,
                        .max = 3},
              ParamSpec{.name = "frame_ms",
                        .type = ParamType::integer,
                        .default_value = 30,
                        .description = "Detector frame length in milliseconds: 10, 20 or 30.",
                        .min = 10,
                        .max = 30},
              ParamSpec{.name = "min_speech_ms",
                        .type = ParamType::integer,
                        .default_value = 250,
                        .description = "Speech shorter than this many milliseconds is ignored.",
                        .min = 0,
                        .max = 60'000},
              ParamSpec{.name = "min_silence_ms",
                        .type = ParamType::integer,
                        .default_value = 300,
                        .description =
                            "A segment ends only after this many milliseconds of non-speech; shorter pauses "
                            "stay inside the segment.",
                        .min = 0,
                        .max = 60'000},
              ParamSpec{.name = "padding_ms",
                        .type = ParamType::integer,
                        .default_value = 30,
                        .description =
                            "Milliseconds of audio added before and after each segment (the trailing "
                            "padding is at most min_silence_ms).",
                        .min = 0,
                        .max = 10'000},
              ParamSpec{.name = "emit_audio",
                        .type = ParamType::boolean,
                        .default_value = true,
                        .description = "Whether each segment's audio is emitted."},
              ParamSpec{.name = "emit_events",
                        .type = ParamType::boolean,
                        .default_value = true,
                        .description = "Whether speech_start and speech_end control events are emitted."},
              ParamSpec{.name = "stream_audio",
                        .type = ParamType::boolean,
                        .default_value = false,
                        .description = "Send each segment's audio in pieces while the speech goes on "
                                       "(metadata stream/final) instead of once at its end."},
          },
  };
}

RM_REGISTER_NODE(WebRtcVAD, webrtc_vad_contract());

}  // namespace
}  // namespace rm::nodes
