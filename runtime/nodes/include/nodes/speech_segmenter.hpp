#pragma once
// SpeechSegmenter: turns per-frame speech probabilities (or yes/no decisions) into speech
// segments, whatever detector produced them (WebRTC VAD, Silero VAD, an energy gate, ...).
//
// Usage (one instance per stream, on the node's thread; the class is thread-compatible):
//
//   SpeechSegmenter seg(SpeechSegmenterConfig{.sample_rate = 16000, .threshold = 0.5f});
//   for each frame of mono audio (any length, contiguous, in stream order):
//     if (auto st = seg.push(frame_samples, probability, frame_timestamp_us, out); !st) return st;
//   at end of stream:
//     if (auto st = seg.finish(out); !st) return st;
//
// Decision rule (the one Silero's VADIterator / get_speech_timestamps use, in samples):
// - Speech starts at the first frame with probability >= threshold.
// - While in speech, a frame with probability < neg_threshold starts a silence candidate at
//   that frame's first sample; a frame >= threshold cancels it; frames in between keep the
//   current state (hysteresis). When the silence candidate has lasted min_silence_ms, the
//   speech ends where the silence began.
// - Speech shorter than min_speech_ms (from its start to where its silence began) is dropped
//   without any output.
// - The emitted segment is widened by padding_ms on both sides: never before the stream's first
//   sample, never into the previous segment, and at the end never beyond the audio already seen
//   when the end was decided (so trailing padding is at most min_silence_ms).
//
// Outputs, through the Emitter, in this order per segment:
// 1. control "speech_start", payload {"start_us"}, timestamp start_us: as soon as the speech has
//    lasted min_speech_ms (so a dropped blip never produces an event).
// 2. audio: the segment's mono samples at sample_rate, timestamp start_us, metadata
//    {"start_us", "end_us", "duration_ms", "segment_index"} (+ config.metadata).
//    Skipped when config.emit_audio is false.
// 3. control "speech_end", payload {"start_us", "end_us"}, timestamp end_us.
// Events are skipped when config.emit_events is false.
//
// Streaming (config.stream_audio): instead of one audio value at the end, the segment's audio
// goes out in pieces while the speech goes on, so a consumer (an ASR) can work during the
// phrase and finish moments after it ends. The first piece, right after speech_start, holds
// everything from the padded start; then each push() sends what it added. While a silence
// candidate runs, audio past silence_start + padding is held back (it belongs to the segment
// only if the speech resumes), so the pieces of a segment are exactly the samples the
// whole-segment audio would have, in order and contiguous. Each piece has metadata
// {"segment_index", "segment_start_us", "stream": true, "final"}; the last piece of a segment
// (possibly empty) has "final": true and comes right before speech_end.
// start_us/end_us are the padded bounds (the audio's first sample and one past its last),
// computed as base + sample_index * 1e6 / sample_rate where base is the timestamp of the
// first frame pushed after construction or reset(): input is assumed contiguous.
//
// Memory: while idle only the last padding_ms of audio is kept; during speech the segment's
// audio is held until the segment ends.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <boost/json/object.hpp>

#include "runtime/node.hpp"

namespace rm::nodes {

struct SpeechSegmenterConfig {
  std::uint32_t sample_rate = 16000;  // of the mono samples passed to push()
  float threshold = 0.5f;             // probability >= threshold is speech
  // Speech continues while probability >= neg_threshold; default max(threshold - 0.15, 0.01)
  // (Silero's rule). For yes/no detectors any value in (0, 1] behaves the same.
  std::optional<float> neg_threshold;
  std::int64_t min_speech_ms = 250;
  std::int64_t min_silence_ms = 100;
  std::int64_t padding_ms = 30;
  bool emit_audio = true;
  bool emit_events = true;
  bool stream_audio = false;     // see "Streaming" above
  boost::json::object metadata;  // merged into every segment's audio metadata (e.g. detector)
};

// One finished segment, as also reported through the emitted outputs.
struct SpeechSegment {
  std::int64_t start_us = 0;  // padded start (first sample of the segment audio)
  std::int64_t end_us = 0;    // padded end (one past the last sample)
};

class SpeechSegmenter {
 public:
  // Throws std::invalid_argument when the config is inconsistent (sample_rate 0, threshold
  // outside [0, 1], neg_threshold above threshold, negative durations).
  explicit SpeechSegmenter(SpeechSegmenterConfig config);

  // Feeds one frame: mono samples and the detector's speech probability for them (use 1.0 / 0.0
  // for yes/no decisions). `timestamp_us` is only used for the first frame after construction
  // or reset(). Emits events/segments that this frame completes; returns the Emitter's error.
  runtime::Status push(std::span<const float> frame, float probability, std::int64_t timestamp_us,
                       runtime::Emitter& out);
  // Convenience for yes/no detectors.
  runtime::Status push(std::span<const float> frame, bool is_speech, std::int64_t timestamp_us,
                       runtime::Emitter& out) {
    return push(frame, is_speech ? 1.0f : 0.0f, timestamp_us, out);
  }

  // End of stream: closes an open segment (ending where its silence began, or at the last
  // sample), drops it if shorter than min_speech_ms. The segmenter is reset afterwards.
  runtime::Status finish(runtime::Emitter& out);

  // Forgets all state, as after construction (next push() sets a new time base).
  void reset();

  bool in_speech() const { return in_speech_; }
  // Segments emitted since construction (not cleared by reset()).
  const std::vector<SpeechSegment>& segments() const { return segments_; }
  const SpeechSegmenterConfig& config() const { return config_; }

 private:
  std::int64_t to_us(std::int64_t sample) const;
  runtime::Status announce(runtime::Emitter& out);
  runtime::Status close_segment(std::int64_t speech_end, runtime::Emitter& out);
  // Streaming: sends samples [streamed_to_, upto) of the current segment as one piece.
  runtime::Status stream_piece(std::int64_t upto, bool final, runtime::Emitter& out);
  void trim_idle();
  void drop_before(std::int64_t sample);  // forgets buffered samples before `sample`

  SpeechSegmenterConfig config_;
  float neg_threshold_ = 0.35f;
  std::int64_t min_speech_ = 0;   // samples
  std::int64_t min_silence_ = 0;  // samples
  std::int64_t pad_ = 0;          // samples

  bool have_base_ = false;
  std::int64_t base_us_ = 0;
  std::vector<float> buf_;  // samples [buf_start_, pos_)
  std::int64_t buf_start_ = 0;
  std::int64_t pos_ = 0;  // samples pushed so far

  bool in_speech_ = false;
  bool announced_ = false;
  std::int64_t speech_start_ = 0;    // first speech sample (unpadded)
  std::int64_t seg_start_ = 0;       // padded start
  std::int64_t silence_start_ = -1;  // silence candidate start, -1 = none
  std::int64_t last_seg_end_ = 0;    // padded end of the previous segment
  std::int64_t streamed_to_ = 0;     // streaming: samples of the current segment already sent
  std::vector<SpeechSegment> segments_;
};

}  // namespace rm::nodes
