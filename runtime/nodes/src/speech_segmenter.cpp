#include "nodes/speech_segmenter.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace rm::nodes {

using runtime::DataPtr;
using runtime::RuntimeData;
using runtime::Status;

SpeechSegmenter::SpeechSegmenter(SpeechSegmenterConfig config) : config_(std::move(config)) {
  if (config_.sample_rate == 0) throw std::invalid_argument("speech segmenter: sample_rate must be > 0");
  if (!(config_.threshold >= 0.0f && config_.threshold <= 1.0f))
    throw std::invalid_argument(
        fmt::format("speech segmenter: threshold must be in [0, 1], got {}", config_.threshold));
  neg_threshold_ =
      config_.neg_threshold ? *config_.neg_threshold : std::max(config_.threshold - 0.15f, 0.01f);
  if (!(neg_threshold_ >= 0.0f && neg_threshold_ <= config_.threshold))
    throw std::invalid_argument(
        fmt::format("speech segmenter: neg_threshold must be in [0, threshold={}], got {}", config_.threshold,
                    neg_threshold_));
  if (config_.min_speech_ms < 0 || config_.min_silence_ms < 0 || config_.padding_ms < 0)
    throw std::invalid_argument(
        "speech segmenter: min_speech_ms, min_silence_ms and padding_ms must be >= 0");
  auto samples = [&](std::int64_t ms) { return ms * std::int64_t(config_.sample_rate) / 1000; };
  min_speech_ = samples(config_.min_speech_ms);
  min_silence_ = samples(config_.min_silence_ms);
  pad_ = samples(config_.padding_ms);
}

void SpeechSegmenter::reset() {
  have_base_ = false;
  base_us_ = 0;
  buf_.clear();
  buf_start_ = 0;
  pos_ = 0;
  in_speech_ = false;
  announced_ = false;
  speech_start_ = 0;
  seg_start_ = 0;
  silence_start_ = -1;
  last_seg_end_ = 0;
  streamed_to_ = 0;
}

std::int64_t SpeechSegmenter::to_us(std::int64_t sample) const {
  return base_us_ + sample * 1'000'000 / std::int64_t(config_.sample_rate);
}

Status SpeechSegmenter::announce(runtime::Emitter& out) {
  announced_ = true;
  streamed_to_ = seg_start_;
  if (!config_.emit_events) return {};
  boost::json::object payload;
  payload["start_us"] = to_us(seg_start_);
  return out.emit(RuntimeData::make_control("speech_start", std::move(payload), to_us(seg_start_)));
}

Status SpeechSegmenter::stream_piece(std::int64_t upto, bool final, runtime::Emitter& out) {
  upto = std::min(upto, pos_);
  if (upto < streamed_to_) upto = streamed_to_;
  if (upto == streamed_to_ && !final) return {};
  std::vector<float> samples(buf_.begin() + (streamed_to_ - buf_start_), buf_.begin() + (upto - buf_start_));
  boost::json::object md = config_.metadata;
  md["segment_index"] = segments_.size();  // index the segment will have once it ends
  md["segment_start_us"] = to_us(seg_start_);
  md["stream"] = true;
  md["final"] = final;
  const std::int64_t ts = to_us(streamed_to_);
  streamed_to_ = upto;
  // Sent samples are not needed again (the next segment's padding never reaches back into
  // this one), so a long phrase does not pile up in memory.
  drop_before(streamed_to_);
  return out.emit(RuntimeData::make_audio(std::move(samples), config_.sample_rate, 1, ts, std::move(md)));
}

Status SpeechSegmenter::close_segment(std::int64_t speech_end, runtime::Emitter& out) {
  in_speech_ = false;
  silence_start_ = -1;
  bool was_announced = announced_;
  announced_ = false;
  if (speech_end - speech_start_ < min_speech_ || speech_end <= speech_start_) {
    trim_idle();
    return {};
  }
  if (!was_announced) {
    if (auto st = announce(out); !st) return st;
    announced_ = false;
  }
  const std::int64_t end = std::min(speech_end + pad_, pos_);
  const std::int64_t start = seg_start_;
  const SpeechSegment seg{to_us(start), to_us(end)};
  if (config_.emit_audio && config_.stream_audio) {
    if (auto st = stream_piece(end, true, out); !st) return st;
  }
  segments_.push_back(seg);
  last_seg_end_ = end;
  if (config_.emit_audio && !config_.stream_audio) {
    std::vector<float> samples(buf_.begin() + (start - buf_start_), buf_.begin() + (end - buf_start_));
    boost::json::object md = config_.metadata;
    md["start_us"] = seg.start_us;
    md["end_us"] = seg.end_us;
    md["duration_ms"] = double(seg.end_us - seg.start_us) / 1000.0;
    md["segment_index"] = segments_.size() - 1;
    auto st = out.emit(
        RuntimeData::make_audio(std::move(samples), config_.sample_rate, 1, seg.start_us, std::move(md)));
    if (!st) return st;
  }
  trim_idle();
  if (config_.emit_events) {
    boost::json::object payload;
    payload["start_us"] = seg.start_us;
    payload["end_us"] = seg.end_us;
    return out.emit(RuntimeData::make_control("speech_end", std::move(payload), seg.end_us));
  }
  return {};
}

// While idle, only the samples a future segment's leading padding could reach are kept.
void SpeechSegmenter::trim_idle() {
  drop_before(std::max(pos_ - pad_, last_seg_end_));
}

void SpeechSegmenter::drop_before(std::int64_t sample) {
  if (sample > buf_start_) {
    buf_.erase(buf_.begin(), buf_.begin() + (sample - buf_start_));
    buf_start_ = sample;
  }
}

Status SpeechSegmenter::push(std::span<const float> frame, float probability, std::int64_t timestamp_us,
                             runtime::Emitter& out) {
  if (!have_base_) {
    have_base_ = true;
    base_us_ = timestamp_us;
  }
  const std::int64_t frame_start = pos_;
  buf_.insert(buf_.end(), frame.begin(), frame.end());
  pos_ += std::int64_t(frame.size());

  if (!in_speech_) {
    if (probability >= config_.threshold) {
      in_speech_ = true;
      announced_ = false;
      speech_start_ = frame_start;
      silence_start_ = -1;
      seg_start_ = std::max({frame_start - pad_, last_seg_end_, buf_start_});
    } else {
      trim_idle();
      return {};
    }
  } else if (probability >= config_.threshold) {
    silence_start_ = -1;
  } else if (probability < neg_threshold_) {
    if (silence_start_ < 0) silence_start_ = frame_start;
    if (pos_ - silence_start_ >= min_silence_) return close_segment(silence_start_, out);
  }
  if (!announced_ && silence_start_ < 0 && pos_ - speech_start_ >= min_speech_) {
    if (auto st = announce(out); !st) return st;
  }
  if (announced_ && config_.emit_audio && config_.stream_audio) {
    // During a silence candidate only up to its padded start surely belongs to the segment.
    const std::int64_t upto = silence_start_ >= 0 ? silence_start_ + pad_ : pos_;
    return stream_piece(upto, false, out);
  }
  return {};
}

Status SpeechSegmenter::finish(runtime::Emitter& out) {
  Status st;
  if (in_speech_) st = close_segment(silence_start_ >= 0 ? silence_start_ : pos_, out);
  reset();
  return st;
}

}  // namespace rm::nodes
