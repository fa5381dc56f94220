#pragma once
// SileroVAD: voice-activity detection with the Silero VAD v5 model, run natively in C++
// (nodes/silero_model.hpp), segmented by the shared SpeechSegmenter (nodes/speech_segmenter.hpp),
// so its outputs are exactly those of the other VAD nodes:
//   control "speech_start" {start_us}, audio segment {start_us, end_us, duration_ms,
//   segment_index, detector: "silero"}, control "speech_end" {start_us, end_us}.
//
// Input: audio of any chunk size, any channel count (averaged to mono) and any sample rate.
// 16 kHz and 8 kHz run natively (512 / 256-sample windows, 32 ms); other rates are resampled
// internally with libsoxr to `model_rate`, and segments then carry audio at that rate.
// Input is buffered into whole windows; the model state (context samples, LSTM state) is carried
// across chunks and reset by flush() (end of stream), so one instance serves one stream at a time.
// A trailing partial window at end of stream is zero-padded for the model, but only its real
// samples go into the segment.
// Control inputs are forwarded unchanged; other data types are rejected with invalid_input.
//
// Weights: param `weights_path`, else $RM_SILERO_WEIGHTS, else
// ~/.cache/remotemedia/silero_vad_v5.rmw (written by scripts/fetch-silero-model.sh). They are
// loaded once per process in initialize() and shared by all instances.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nodes/silero_model.hpp"
#include "nodes/speech_segmenter.hpp"
#include "runtime/node.hpp"

namespace rm::nodes {

namespace detail {
class SoxrStream;
}  // namespace detail

runtime::NodeContract silero_vad_contract();

class SileroVadNode final : public runtime::Node {
 public:
  // Params must be validated and completed against silero_vad_contract(); throws
  // std::invalid_argument for values the contract cannot express (model_rate not 8000/16000).
  explicit SileroVadNode(const runtime::NodeInit& init);
  ~SileroVadNode() override;

  runtime::Status initialize() override;
  runtime::Status process(const runtime::DataPtr& input, runtime::Emitter& out) override;
  runtime::Status flush(runtime::Emitter& out) override;
  void close() override;

  // Per-window speech probabilities of the current stream, in order (kept only when
  // `keep_probabilities` is set; used by tests and tools).
  const std::vector<float>& probabilities() const { return probabilities_; }
  void keep_probabilities(bool on) { keep_probs_ = on; }
  // Bytes of per-stream state held by this node outside the shared weights and the audio of an
  // open segment: model stream, window buffer, resampler buffers.
  std::size_t stream_state_bytes() const;
  const std::vector<SpeechSegment>& segments() const;

 private:
  runtime::Status start_stream(std::uint32_t rate, std::int64_t timestamp_us);
  runtime::Status feed(const float* samples, std::size_t n, runtime::Emitter& out);
  runtime::Status run_window(std::size_t real_samples, runtime::Emitter& out);
  void reset_stream();

  std::string node_id_;
  std::filesystem::path weights_path_;
  SpeechSegmenterConfig seg_config_;
  SileroRate model_rate_ = SileroRate::k16000;

  std::shared_ptr<const SileroModel> model_;
  std::optional<SileroStream> stream_;
  std::optional<SpeechSegmenter> segmenter_;
  std::unique_ptr<detail::SoxrStream> resampler_;
  bool streaming_ = false;
  std::uint32_t input_rate_ = 0;
  std::int64_t base_us_ = 0;
  std::vector<float> pending_;    // samples at the model rate not yet forming a whole window
  std::vector<float> mono_;       // scratch: downmixed input
  std::vector<float> resampled_;  // scratch: resampler output
  bool keep_probs_ = false;
  std::vector<float> probabilities_;
};

}  // namespace rm::nodes
