// AudioChunker: re-chunks an audio stream into chunks of exactly chunk_size frames.
//
// Guarantees: every chunk except possibly the last of a run has exactly chunk_size frames;
// a chunk's timestamp is the media time of its first frame (the input's timestamp plus the
// frames before it, no accumulated rounding); chunks lying inside one input are zero-copy views
// of it and an input that already is one chunk is forwarded as the same value. A run ends at end
// of stream, when the format (rate/channels) changes, or when an input does not continue where
// the previous one ended (e.g. separate speech segments): the remainder is emitted then if
// emit_partial is true and dropped otherwise. Non-audio inputs are forwarded unchanged.
#include <cstdlib>
#include <vector>

#include "detail/audio_util.hpp"
#include "runtime/node_registry.hpp"

namespace rm::nodes {
namespace {

using namespace rm::runtime;

class AudioChunker final : public Node {
 public:
  explicit AudioChunker(const NodeInit& init)
      : id_(init.node_id),
        chunk_(std::size_t(param_int(init.params, "chunk_size"))),
        emit_partial_(param_bool(init.params, "emit_partial")) {}

  Status process(const DataPtr& in, Emitter& out) override {
    if (!in->audio()) return out.emit(in);
    if (auto st = detail::check_audio(*in, id_, "AudioChunker"); !st) return st;
    const Audio& a = *in->audio();
    if (in_run_) {
      const std::int64_t tolerance_us = 1'000'000 / std::int64_t(rate_) + 1;
      const std::int64_t expected = detail::frame_time_us(run_base_, run_frames_, rate_);
      if (a.sample_rate != rate_ || a.channels != channels_ ||
          std::llabs(in->timestamp_us - expected) > tolerance_us) {
        if (auto st = end_run(out); !st) return st;
      }
    }
    if (!in_run_) {
      // Times within a run are computed from its first timestamp, so they never drift by rounding.
      in_run_ = true;
      rate_ = a.sample_rate;
      channels_ = a.channels;
      run_base_ = in->timestamp_us;
      run_frames_ = 0;
    }
    const std::size_t frames = a.frames();
    const std::int64_t first = run_frames_;  // run index of this input's first frame
    run_frames_ += std::int64_t(frames);
    const auto samples = a.view();
    std::size_t offset = 0;  // frames of this input consumed
    if (!pending_.empty()) {
      const std::size_t take = std::min(chunk_ - pending_.size() / channels_, frames);
      pending_.insert(pending_.end(), samples.begin(), samples.begin() + std::ptrdiff_t(take * channels_));
      offset = take;
      if (pending_.size() / channels_ == chunk_) {
        if (auto st = emit_pending(out); !st) return st;
      }
    }
    while (frames - offset >= chunk_) {
      Status st;
      if (offset == 0 && frames == chunk_) {
        st = out.emit(in);
      } else {
        st = out.emit(
            RuntimeData::make_audio(detail::slice_samples(in, offset * channels_, chunk_ * channels_), rate_,
                                    channels_, time_of(first + std::int64_t(offset)), in->metadata));
      }
      if (!st) return st;
      offset += chunk_;
    }
    if (offset < frames) {
      pending_.assign(samples.begin() + std::ptrdiff_t(offset * channels_), samples.end());
      pending_ts_ = time_of(first + std::int64_t(offset));
      pending_md_ = in->metadata;
    }
    return {};
  }

  Status flush(Emitter& out) override { return end_run(out); }

 private:
  Status emit_pending(Emitter& out) {
    auto d =
        RuntimeData::make_audio(std::move(pending_), rate_, channels_, pending_ts_, std::move(pending_md_));
    pending_ = {};
    pending_md_ = {};
    return out.emit(std::move(d));
  }
  std::int64_t time_of(std::int64_t run_frame) const {
    return detail::frame_time_us(run_base_, run_frame, rate_);
  }

  Status end_run(Emitter& out) {
    in_run_ = false;
    if (pending_.empty()) return {};
    if (emit_partial_) return emit_pending(out);
    pending_.clear();
    return {};
  }

  std::string id_;
  std::size_t chunk_;
  bool emit_partial_;
  std::uint32_t rate_ = 0;
  std::uint16_t channels_ = 0;
  bool in_run_ = false;
  std::int64_t run_base_ = 0;    // timestamp of the run's first frame
  std::int64_t run_frames_ = 0;  // frames received in this run
  std::vector<float> pending_;
  std::int64_t pending_ts_ = 0;
  boost::json::object pending_md_;
};

NodeContract audio_chunker_contract() {
  return NodeContract{
      .node_type = "AudioChunker",
      .description =
          "Re-chunks audio into chunks of exactly chunk_size frames (samples per channel), whatever the "
          "input "
          "chunk sizes. Each chunk's timestamp is the exact media time of its first frame. A run of audio "
          "ends at "
          "end of stream, on a change of sample rate or channel count, or when an input does not continue "
          "where "
          "the previous one ended (for example separate speech segments); its remainder is then emitted as a "
          "shorter chunk if emit_partial is true. Non-audio inputs are forwarded unchanged.",
      .accepts = {DataType::audio},
      .emits = {DataType::audio},
      .params =
          {
              ParamSpec{
                  .name = "chunk_size",
                  .type = ParamType::integer,
                  .default_value = 320,
                  .description = "Frames (samples per channel) per output chunk; 320 is 20 ms at 16 kHz.",
                  .min = 1,
                  .max = 10'000'000},
              ParamSpec{.name = "emit_partial",
                        .type = ParamType::boolean,
                        .default_value = true,
                        .description =
                            "Whether the remainder shorter than chunk_size is emitted at the end of a run "
                            "(true) or dropped (false)."},
          },
  };
}

RM_REGISTER_NODE(AudioChunker, audio_chunker_contract());

}  // namespace
}  // namespace rm::nodes
