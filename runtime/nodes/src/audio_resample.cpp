// AudioResample: streaming sample-rate conversion with libsoxr.
//
// Guarantees: one soxr stream per run of contiguous audio, so filter state carries across
// chunks and chunk boundaries leave no clicks; the output of a run has round(frames * ratio)
// frames in total once its tail is flushed (at end of stream, on a format change, or when an
// input does not continue where the previous one ended). soxr compensates its own delay, so an
// output chunk's timestamp is the run's start plus the output frames before it at target_rate.
// Early chunks of a run can be shorter (or absent) while the filter fills. Channels are kept
// (interleaved). Input already at target_rate is forwarded as the same value. Non-audio inputs
// are forwarded unchanged.
#include <cmath>
#include <cstdlib>
#include <memory>
#include <vector>

#include <soxr.h>

#include "detail/audio_util.hpp"
#include "detail/soxr_stream.hpp"
#include "runtime/node_registry.hpp"

namespace rm::nodes {
namespace {

using namespace rm::runtime;

unsigned long quality_recipe(const std::string& q) {
  if (q == "quick") return SOXR_QQ;
  if (q == "low") return SOXR_LQ;
  if (q == "medium") return SOXR_MQ;
  if (q == "very_high") return SOXR_VHQ;
  return SOXR_HQ;
}

class AudioResample final : public Node {
 public:
  explicit AudioResample(const NodeInit& init)
      : id_(init.node_id),
        target_(std::uint32_t(param_int(init.params, "target_rate"))),
        recipe_(quality_recipe(param_string(init.params, "quality"))) {}

  Status process(const DataPtr& in, Emitter& out) override {
    if (!in->audio()) return out.emit(in);
    if (auto st = detail::check_audio(*in, id_, "AudioResample"); !st) return st;
    const Audio& a = *in->audio();
    if (soxr_) {
      const std::int64_t tolerance_us = 1'000'000 / std::int64_t(rate_) + 1;
      if (a.sample_rate != rate_ || a.channels != channels_ ||
          std::llabs(in->timestamp_us - expected_ts_) > tolerance_us) {
        if (auto st = end_run(out); !st) return st;
      }
    }
    if (a.sample_rate == target_) return out.emit(in);
    if (!soxr_) {
      if (auto st = start_run(*in); !st) return st;
    }
    expected_ts_ = detail::frame_time_us(in->timestamp_us, std::int64_t(a.frames()), rate_);
    metadata_ = in->metadata;
    return run(a.view().data(), a.frames(), out);
  }

  Status flush(Emitter& out) override { return end_run(out); }
  void close() override { soxr_.reset(); }

 private:
  Status start_run(const RuntimeData& d) {
    const Audio& a = *d.audio();
    rate_ = a.sample_rate;
    channels_ = a.channels;
    base_ts_ = d.timestamp_us;
    out_frames_ = 0;
    auto stream = detail::SoxrStream::create(rate_, target_, channels_, recipe_);
    if (!stream)
      return node_error(NodeErrorCode::process_failed, fmt::format("node {}: {}", id_, stream.error()));
    soxr_ = std::move(*stream);
    return {};
  }

  // Feeds `frames` frames (nullptr = end of input, drains the tail) and emits what comes out.
  Status run(const float* in, std::size_t frames, Emitter& out) {
    std::vector<float> buf;
    buf.reserve((std::size_t(std::ceil(double(frames) * double(target_) / double(rate_))) + 256) * channels_);
    auto st = in ? soxr_->process(in, frames, buf) : soxr_->drain(buf);
    if (!st) return node_error(NodeErrorCode::process_failed, fmt::format("node {}: {}", id_, st.error()));
    const std::size_t produced = buf.size() / channels_;
    if (produced == 0) return {};
    const auto ts = detail::frame_time_us(base_ts_, out_frames_, target_);
    out_frames_ += std::int64_t(produced);
    return out.emit(RuntimeData::make_audio(std::move(buf), target_, channels_, ts, metadata_));
  }

  Status end_run(Emitter& out) {
    if (!soxr_) return {};
    auto st = run(nullptr, 0, out);
    soxr_.reset();
    return st;
  }

  std::string id_;
  std::uint32_t target_;
  unsigned long recipe_;
  std::unique_ptr<detail::SoxrStream> soxr_;
  std::uint32_t rate_ = 0;
  std::uint16_t channels_ = 0;
  std::int64_t base_ts_ = 0;
  std::int64_t out_frames_ = 0;
  std::int64_t expected_ts_ = 0;
  boost::json::object metadata_;
};

NodeContract audio_resample_contract() {
  return NodeContract{
      .node_type = "AudioResample",
      .description =
          "Converts audio to target_rate with the libsoxr streaming resampler, keeping the channel count. "
          "The "
          "filter state carries across chunks, the tail is flushed at end of stream (and when the input "
          "format "
          "changes or the input jumps in time), and each output chunk is stamped with the exact media time "
          "of its "
          "first frame. Audio already at target_rate passes through untouched; non-audio inputs are "
          "forwarded.",
      .accepts = {DataType::audio},
      .emits = {DataType::audio},
      .params =
          {
              ParamSpec{.name = "target_rate",
                        .type = ParamType::integer,
                        .default_value = 16000,
                        .description = "Output sample rate in Hz.",
                        .min = 1000,
                        .max = 384000},
              ParamSpec{.name = "quality",
                        .type = ParamType::string,
                        .default_value = "high",
                        .description =
                            "libsoxr quality recipe: quick (cubic), low, medium (16-bit), high (20-bit) or "
                            "very_high (28-bit). Higher quality costs more CPU and a little more latency.",
                        .choices = {"quick", "low", "medium", "high", "very_high"}},
          },
  };
}

RM_REGISTER_NODE(AudioResample, audio_resample_contract());

}  // namespace
}  // namespace rm::nodes
