#include "nodes/silero_vad.hpp"

#include <algorithm>
#include <stdexcept>

#include <soxr.h>

#include "detail/soxr_stream.hpp"
#include "runtime/node_registry.hpp"

namespace rm::nodes {

using runtime::DataPtr;
using runtime::DataType;
using runtime::Emitter;
using runtime::NodeErrorCode;
using runtime::ParamSpec;
using runtime::ParamType;
using runtime::Status;

runtime::NodeContract silero_vad_contract() {
  auto num = [](std::string name, double def, std::optional<double> lo, std::optional<double> hi,
                std::string desc) {
    return ParamSpec{.name = std::move(name),
                     .type = ParamType::number,
                     .default_value = def,
                     .description = std::move(desc),
                     .min = lo,
                     .max = hi};
  };
  auto integer = [](std::string name, std::int64_t def, std::optional<double> lo, std::optional<double> hi,
                    std::string desc) {
    return ParamSpec{.name = std::move(name),
                     .type = ParamType::integer,
                     .default_value = def,
                     .description = std::move(desc),
                     .min = lo,
                     .max = hi};
  };
  return runtime::NodeContract{
      .node_type = "SileroVAD",
      .description =
          "Voice-activity detection with the Silero VAD v5 model, run natively (no ONNX runtime). "
          "Takes audio of any rate, chunk size and channel count; emits speech_start / speech_end "
          "control events and one audio segment per utterance, like the other VAD nodes.",
      .accepts = {DataType::audio, DataType::control},
      .emits = {DataType::audio, DataType::control},
      .params =
          {
              num("threshold", 0.5, 0.0, 1.0,
                  "Speech probability at or above which a window counts as speech"),
              integer("min_speech_duration_ms", 250, 0, 600000, "Speech shorter than this is dropped"),
              integer("min_silence_duration_ms", 100, 0, 600000,
                      "Silence that must follow speech before the segment ends"),
              integer("speech_pad_ms", 30, 0, 600000, "Padding added on both sides of a segment"),
              integer("model_rate", 16000, 8000, 16000,
                      "Model rate (8000 or 16000) that audio at other rates is resampled to"),
              ParamSpec{.name = "weights_path",
                        .type = ParamType::string,
                        .default_value = "",
                        .description = "Weights file; empty = $RM_SILERO_WEIGHTS or "
                                       "~/.cache/remotemedia/silero_vad_v5.rmw"},
              ParamSpec{.name = "emit_audio",
                        .type = ParamType::boolean,
                        .default_value = true,
                        .description = "Emit each speech segment as audio"},
              ParamSpec{.name = "emit_events",
                        .type = ParamType::boolean,
                        .default_value = true,
                        .description = "Emit speech_start / speech_end control events"},
              ParamSpec{.name = "stream_audio",
                        .type = ParamType::boolean,
                        .default_value = false,
                        .description = "Send each segment's audio in pieces while the speech goes on "
                                       "(metadata stream/final) instead of once at its end"},
          },
  };
}

SileroVadNode::SileroVadNode(const runtime::NodeInit& init) : node_id_(init.node_id) {
  const auto& p = init.params;
  const auto rate = runtime::param_int(p, "model_rate");
  if (rate != 8000 && rate != 16000) {
    throw std::invalid_argument("params.model_rate must be 8000 or 16000, got " + std::to_string(rate));
  }
  model_rate_ = rate == 8000 ? SileroRate::k8000 : SileroRate::k16000;
  const std::string path = runtime::param_string(p, "weights_path");
  weights_path_ = path.empty() ? SileroModel::default_path() : std::filesystem::path(path);
  seg_config_.threshold = static_cast<float>(runtime::param_number(p, "threshold"));
  seg_config_.min_speech_ms = runtime::param_int(p, "min_speech_duration_ms");
  seg_config_.min_silence_ms = runtime::param_int(p, "min_silence_duration_ms");
  seg_config_.padding_ms = runtime::param_int(p, "speech_pad_ms");
  seg_config_.emit_audio = runtime::param_bool(p, "emit_audio");
  seg_config_.emit_events = runtime::param_bool(p, "emit_events");
  seg_config_.stream_audio = runtime::param_bool(p, "stream_audio");
  seg_config_.metadata["detector"] = "silero";
  seg_config_.metadata["node"] = node_id_;
}

SileroVadNode::~SileroVadNode() = default;

Status SileroVadNode::initialize() {
  auto loaded = SileroModel::load_shared(weights_path_);
  if (!loaded) {
    return runtime::node_error(NodeErrorCode::init_failed,
                               "node " + node_id_ + ": " + loaded.error().message);
  }
  model_ = *loaded;
  return {};
}

Status SileroVadNode::start_stream(std::uint32_t rate, std::int64_t timestamp_us) {
  SileroRate run_rate = model_rate_;
  if (rate == 16000) run_rate = SileroRate::k16000;
  if (rate == 8000) run_rate = SileroRate::k8000;
  const auto run_hz = static_cast<std::uint32_t>(run_rate);
  try {
    resampler_.reset();
    if (rate != run_hz) {
      auto r = detail::SoxrStream::create(rate, run_hz, 1, SOXR_HQ);
      if (!r) return runtime::node_error(NodeErrorCode::invalid_input, "node " + node_id_ + ": " + r.error());
      resampler_ = std::move(*r);
    }
    SpeechSegmenterConfig cfg = seg_config_;
    cfg.sample_rate = run_hz;
    segmenter_.emplace(std::move(cfg));
  } catch (const std::exception& e) {
    return runtime::node_error(NodeErrorCode::invalid_input, "node " + node_id_ + ": " + e.what());
  }
  stream_.emplace(model_, run_rate);
  pending_.clear();
  pending_.reserve(stream_->window_samples());
  probabilities_.clear();
  input_rate_ = rate;
  base_us_ = timestamp_us;
  streaming_ = true;
  return {};
}

Status SileroVadNode::process(const DataPtr& input, Emitter& out) {
  if (input->type == DataType::control) return out.emit(input);
  const runtime::Audio* audio = input->audio();
  if (audio == nullptr) {
    return runtime::node_error(
        NodeErrorCode::invalid_input,
        "node " + node_id_ + ": SileroVAD takes audio, got " + std::string(runtime::to_string(input->type)));
  }
  if (!model_) {
    return runtime::node_error(NodeErrorCode::process_failed,
                               "node " + node_id_ + ": process() before initialize()");
  }
  if (audio->sample_rate == 0 || audio->channels == 0) {
    return runtime::node_error(NodeErrorCode::invalid_input,
                               "node " + node_id_ + ": audio with sample_rate " +
                                   std::to_string(audio->sample_rate) + " and channels " +
                                   std::to_string(audio->channels) + " cannot be analysed");
  }
  if (!streaming_) {
    if (auto st = start_stream(audio->sample_rate, input->timestamp_us); !st) return st;
  } else if (audio->sample_rate != input_rate_) {
    return runtime::node_error(NodeErrorCode::invalid_input,
                               "node " + node_id_ + ": sample rate changed from " +
                                   std::to_string(input_rate_) + " Hz to " +
                                   std::to_string(audio->sample_rate) +
                                   " Hz within one stream; put an AudioResample node before SileroVAD");
  }
  const auto samples = audio->view();
  const std::size_t frames = audio->frames();
  const float* mono = samples.data();
  if (audio->channels > 1) {
    mono_.resize(frames);
    const std::size_t ch = audio->channels;
    for (std::size_t i = 0; i < frames; ++i) {
      float s = 0.0F;
      for (std::size_t c = 0; c < ch; ++c) s += samples[i * ch + c];
      mono_[i] = s / static_cast<float>(ch);
    }
    mono = mono_.data();
  }
  if (resampler_) {
    resampled_.clear();
    if (auto r = resampler_->process(mono, frames, resampled_); !r) {
      return runtime::node_error(NodeErrorCode::process_failed, "node " + node_id_ + ": " + r.error());
    }
    return feed(resampled_.data(), resampled_.size(), out);
  }
  return feed(mono, frames, out);
}

Status SileroVadNode::feed(const float* samples, std::size_t n, Emitter& out) {
  const std::size_t w = stream_->window_samples();
  std::size_t i = 0;
  while (i < n) {
    const std::size_t take = std::min(w - pending_.size(), n - i);
    pending_.insert(pending_.end(), samples + i, samples + i + take);
    i += take;
    if (pending_.size() == w) {
      if (auto st = run_window(w, out); !st) return st;
    }
  }
  return {};
}

Status SileroVadNode::run_window(std::size_t real_samples, Emitter& out) {
  pending_.resize(stream_->window_samples(), 0.0F);
  const float p = stream_->process_window(pending_);
  if (keep_probs_) probabilities_.push_back(p);
  auto st = segmenter_->push(std::span<const float>(pending_.data(), real_samples), p, base_us_, out);
  pending_.clear();
  return st;
}

Status SileroVadNode::flush(Emitter& out) {
  if (!streaming_) return {};
  if (resampler_) {
    resampled_.clear();
    if (auto r = resampler_->drain(resampled_); !r) {
      return runtime::node_error(NodeErrorCode::process_failed,
                                 "node " + node_id_ + ": " + r.error() + " (while draining)");
    }
    if (auto st = feed(resampled_.data(), resampled_.size(), out); !st) return st;
  }
  if (!pending_.empty()) {
    if (auto st = run_window(pending_.size(), out); !st) return st;
  }
  auto st = segmenter_->finish(out);
  reset_stream();
  return st;
}

void SileroVadNode::reset_stream() {
  streaming_ = false;
  resampler_.reset();
  pending_.clear();
  if (stream_) stream_->reset();
}

void SileroVadNode::close() {
  reset_stream();
  stream_.reset();
  segmenter_.reset();
  model_.reset();
}

std::size_t SileroVadNode::stream_state_bytes() const {
  return sizeof(SileroStream) + pending_.capacity() * sizeof(float) + mono_.capacity() * sizeof(float) +
         resampled_.capacity() * sizeof(float);
}

const std::vector<SpeechSegment>& SileroVadNode::segments() const {
  static const std::vector<SpeechSegment> none;
  return segmenter_ ? segmenter_->segments() : none;
}

RM_REGISTER_NODE(SileroVadNode, silero_vad_contract());

}  // namespace rm::nodes
