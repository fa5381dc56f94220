// AudioBufferAccumulator: collects audio until it holds at least target_duration_ms, then emits
// it as one chunk.
//
// Guarantees: inputs are never split, so an emitted chunk lasts between target_duration_ms and
// target_duration_ms plus one input; the remainder is emitted at end of stream (if
// emit_partial). A change of sample rate or channel count, or an input that does not continue
// where the previous one ended, first emits what has been accumulated. The chunk's timestamp
// is that of its first input, its metadata that of its first input. Non-audio inputs are
// forwarded unchanged.
#include <cstdlib>
#include <vector>

#include "detail/audio_util.hpp"
#include "runtime/node_registry.hpp"

namespace rm::nodes {
namespace {

using namespace rm::runtime;

class AudioBufferAccumulator final : public Node {
 public:
  explicit AudioBufferAccumulator(const NodeInit& init)
      : id_(init.node_id),
        target_ms_(param_int(init.params, "target_duration_ms")),
        emit_partial_(param_bool(init.params, "emit_partial")) {}

  Status process(const DataPtr& in, Emitter& out) override {
    if (!in->audio()) return out.emit(in);
    if (auto st = detail::check_audio(*in, id_, "AudioBufferAccumulator"); !st) return st;
    const Audio& a = *in->audio();
    if (!buf_.empty()) {
      const std::int64_t tolerance_us = 1'000'000 / std::int64_t(rate_) + 1;
      if (a.sample_rate != rate_ || a.channels != channels_ ||
          std::llabs(in->timestamp_us - expected_ts_) > tolerance_us) {
        if (auto st = emit(out, emit_partial_); !st) return st;
      }
    }
    if (buf_.empty()) {
      rate_ = a.sample_rate;
      channels_ = a.channels;
      start_ts_ = in->timestamp_us;
      metadata_ = in->metadata;
      target_frames_ = std::size_t(target_ms_ * std::int64_t(rate_) / 1000);
      buf_.reserve(std::max<std::size_t>(target_frames_ * channels_, a.sample_count()));
    }
    const auto v = a.view();
    buf_.insert(buf_.end(), v.begin(), v.end());
    expected_ts_ = detail::frame_time_us(in->timestamp_us, std::int64_t(a.frames()), rate_);
    if (buf_.size() / channels_ >= target_frames_) return emit(out, true);
    return {};
  }

  Status flush(Emitter& out) override { return emit(out, emit_partial_); }

 private:
  Status emit(Emitter& out, bool send) {
    if (buf_.empty()) return {};
    auto d = RuntimeData::make_audio(std::move(buf_), rate_, channels_, start_ts_, std::move(metadata_));
    buf_ = {};
    metadata_ = {};
    return send ? out.emit(std::move(d)) : Status{};
  }

  std::string id_;
  std::int64_t target_ms_;
  bool emit_partial_;
  std::uint32_t rate_ = 0;
  std::uint16_t channels_ = 0;
  std::size_t target_frames_ = 0;
  std::int64_t start_ts_ = 0;
  std::int64_t expected_ts_ = 0;
  std::vector<float> buf_;
  boost::json::object metadata_;
};

NodeContract audio_buffer_accumulator_contract() {
  return NodeContract{
      .node_type = "AudioBufferAccumulator",
      .description =
          "Accumulates audio until it holds at least target_duration_ms, then emits it as one chunk stamped "
          "with "
          "the time of its first input. Inputs are never split, so a chunk lasts from target_duration_ms up "
          "to "
          "target_duration_ms plus one input. What is left at end of stream is emitted if emit_partial is "
          "true. A "
          "change of format or a jump in time first emits what has been accumulated. Non-audio inputs are "
          "forwarded unchanged.",
      .accepts = {DataType::audio},
      .emits = {DataType::audio},
      .params =
          {
              ParamSpec{.name = "target_duration_ms",
                        .type = ParamType::integer,
                        .default_value = 1000,
                        .description = "Minimum duration of an emitted chunk in milliseconds.",
                        .min = 1,
                        .max = 3'600'000},
              ParamSpec{.name = "emit_partial",
                        .type = ParamType::boolean,
                        .default_value = true,
                        .description =
                            "Whether audio shorter than target_duration_ms left at end of stream is emitted "
                            "(true) or dropped (false)."},
          },
  };
}

RM_REGISTER_NODE(AudioBufferAccumulator, audio_buffer_accumulator_contract());

}  // namespace
}  // namespace rm::nodes
