#include "nodes/speech_segmenter.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "node_test_util.hpp"

namespace rm::nodes {
namespace {

using runtime::DataType;
using test::CollectingEmitter;

constexpr std::uint32_t kRate = 16000;
constexpr std::size_t kFrame = 160;  // 10 ms

// Drives a segmenter with one probability per 10 ms frame; sample values encode their own
// index so the test can check exactly which samples a segment carries.
struct Driver {
  explicit Driver(SpeechSegmenterConfig cfg, std::int64_t t0 = 0) : seg(std::move(cfg)), t0_us(t0) {}
  void feed(const std::vector<float>& probs) {
    for (float p : probs) {
      std::vector<float> frame(kFrame);
      for (std::size_t i = 0; i < kFrame; ++i) frame[i] = float(pos + std::int64_t(i));
      auto st = seg.push(frame, p, t0_us + pos * 1'000'000 / kRate, out);
      ASSERT_TRUE(st);
      pos += kFrame;
    }
  }
  void finish() { ASSERT_TRUE(seg.finish(out)); }
  SpeechSegmenter seg;
  std::int64_t t0_us;
  std::int64_t pos = 0;
  CollectingEmitter out;
};

std::vector<float> frames(std::size_t n, float p) {
  return std::vector<float>(n, p);
}
std::vector<float> cat(std::initializer_list<std::vector<float>> parts) {
  std::vector<float> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

SpeechSegmenterConfig cfg(std::int64_t min_speech, std::int64_t min_silence, std::int64_t pad) {
  SpeechSegmenterConfig c;
  c.sample_rate = kRate;
  c.min_speech_ms = min_speech;
  c.min_silence_ms = min_silence;
  c.padding_ms = pad;
  return c;
}

std::int64_t i64(const boost::json::value& v) {
  return v.to_number<std::int64_t>();
}

TEST(SpeechSegmenter, two_words_give_two_padded_segments_with_events_in_order) {
  Driver d(cfg(100, 200, 30));
  // 0.5 s silence, 0.4 s speech, 0.5 s silence, 0.3 s speech, 0.5 s silence
  d.feed(cat({frames(50, 0), frames(40, 1), frames(50, 0), frames(30, 1), frames(50, 0)}));
  d.finish();
  ASSERT_EQ(d.seg.segments().size(), 2u);
  EXPECT_EQ(d.seg.segments()[0].start_us, 470'000);
  EXPECT_EQ(d.seg.segments()[0].end_us, 930'000);
  EXPECT_EQ(d.seg.segments()[1].start_us, 1'370'000);
  EXPECT_EQ(d.seg.segments()[1].end_us, 1'730'000);

  std::vector<std::string> order;
  for (const auto& item : d.out.items)
    order.push_back(item->control() ? item->control()->kind : std::string(runtime::to_string(item->type)));
  EXPECT_EQ(order, (std::vector<std::string>{"speech_start", "audio", "speech_end", "speech_start", "audio",
                                             "speech_end"}));
  const auto& start = *d.out.items[0];
  EXPECT_EQ(start.timestamp_us, 470'000);
  EXPECT_EQ(i64(start.control()->payload.at("start_us")), 470'000);
  const auto& audio = *d.out.items[1];
  EXPECT_EQ(audio.timestamp_us, 470'000);
  EXPECT_EQ(audio.audio()->sample_rate, kRate);
  EXPECT_EQ(audio.audio()->channels, 1);
  ASSERT_EQ(audio.audio()->frames(), std::size_t(std::int64_t(930 - 470) * kRate / 1000));
  EXPECT_EQ(audio.audio()->view().front(), float(470 * 16));  // first padded sample
  EXPECT_EQ(audio.audio()->view().back(), float(930 * 16 - 1));
  EXPECT_EQ(i64(audio.metadata.at("start_us")), 470'000);
  EXPECT_EQ(i64(audio.metadata.at("end_us")), 930'000);
  EXPECT_EQ(i64(audio.metadata.at("segment_index")), 0);
  const auto& end = *d.out.items[2];
  EXPECT_EQ(end.timestamp_us, 930'000);
  EXPECT_EQ(i64(end.control()->payload.at("end_us")), 930'000);
  EXPECT_EQ(i64(d.out.items[4]->metadata.at("segment_index")), 1);
}

TEST(SpeechSegmenter, speech_shorter_than_min_speech_produces_nothing) {
  Driver d(cfg(250, 100, 30));
  d.feed(cat({frames(20, 0), frames(20, 1), frames(30, 0)}));  // 200 ms blip
  d.finish();
  EXPECT_TRUE(d.seg.segments().empty());
  EXPECT_TRUE(d.out.items.empty());
}

TEST(SpeechSegmenter, pause_shorter_than_min_silence_does_not_split_the_segment) {
  Driver d(cfg(100, 300, 0));
  d.feed(cat({frames(10, 0), frames(30, 1), frames(20, 0), frames(30, 1), frames(40, 0)}));
  d.finish();
  ASSERT_EQ(d.seg.segments().size(), 1u);
  EXPECT_EQ(d.seg.segments()[0].start_us, 100'000);
  EXPECT_EQ(d.seg.segments()[0].end_us, 900'000);
}

TEST(SpeechSegmenter, probabilities_between_the_thresholds_keep_speech_going) {
  auto c = cfg(50, 100, 0);
  c.threshold = 0.5f;  // neg_threshold defaults to 0.35
  Driver d(c);
  d.feed(cat({frames(10, 0.1f), frames(10, 0.9f), frames(30, 0.4f), frames(20, 0.1f)}));
  d.finish();
  ASSERT_EQ(d.seg.segments().size(), 1u);
  EXPECT_EQ(d.seg.segments()[0].start_us, 100'000);
  EXPECT_EQ(d.seg.segments()[0].end_us, 500'000);  // ends where prob fell below 0.35
}

TEST(SpeechSegmenter, padding_is_clipped_at_stream_start_and_at_the_previous_segment) {
  Driver d(cfg(50, 100, 200), /*t0=*/5'000'000);
  d.feed(cat({frames(5, 0), frames(20, 1), frames(15, 0), frames(20, 1), frames(30, 0)}));
  d.finish();
  ASSERT_EQ(d.seg.segments().size(), 2u);
  // starts at 50 ms with 200 ms padding -> clipped to the stream start (t0)
  EXPECT_EQ(d.seg.segments()[0].start_us, 5'000'000);
  // speech ended at 250 ms; the end is decided at 350 ms, so trailing padding is 100 ms
  EXPECT_EQ(d.seg.segments()[0].end_us, 5'350'000);
  // second starts at 400 ms; padding reaches back to 200 ms but stops at the first's end
  EXPECT_EQ(d.seg.segments()[1].start_us, 5'350'000);
}

TEST(SpeechSegmenter, open_segment_is_closed_at_end_of_stream) {
  Driver d(cfg(100, 100, 30));
  d.feed(cat({frames(10, 0), frames(30, 1)}));
  EXPECT_TRUE(d.seg.in_speech());
  ASSERT_EQ(d.out.items.size(), 1u);  // speech_start already announced
  d.finish();
  ASSERT_EQ(d.seg.segments().size(), 1u);
  EXPECT_EQ(d.seg.segments()[0].start_us, 70'000);
  EXPECT_EQ(d.seg.segments()[0].end_us, 400'000);
  EXPECT_EQ(d.out.of_type(DataType::audio).size(), 1u);
  EXPECT_FALSE(d.seg.in_speech());
}

TEST(SpeechSegmenter, frames_of_any_length_and_yes_no_decisions_work) {
  SpeechSegmenter seg(cfg(100, 100, 0));
  CollectingEmitter out;
  std::vector<float> big(512, 0.5f);  // a Silero-sized window
  std::int64_t ts = 0;
  auto push = [&](bool speech) {
    ASSERT_TRUE(seg.push(big, speech, ts, out));
    ts += 32'000;
  };
  for (int i = 0; i < 3; ++i) push(false);
  for (int i = 0; i < 10; ++i) push(true);
  for (int i = 0; i < 5; ++i) push(false);
  ASSERT_TRUE(seg.finish(out));
  ASSERT_EQ(seg.segments().size(), 1u);
  EXPECT_EQ(seg.segments()[0].start_us, 96'000);
  EXPECT_EQ(seg.segments()[0].end_us, 416'000);
}

TEST(SpeechSegmenter, audio_or_events_can_be_switched_off) {
  auto c = cfg(50, 50, 0);
  c.emit_events = false;
  c.metadata["detector"] = "test";
  Driver d(c);
  d.feed(cat({frames(10, 0), frames(10, 1), frames(10, 0)}));
  d.finish();
  ASSERT_EQ(d.out.items.size(), 1u);
  EXPECT_EQ(d.out.items[0]->type, DataType::audio);
  EXPECT_EQ(d.out.items[0]->metadata.at("detector").as_string(), "test");

  auto c2 = cfg(50, 50, 0);
  c2.emit_audio = false;
  Driver d2(c2);
  d2.feed(cat({frames(10, 0), frames(10, 1), frames(10, 0)}));
  d2.finish();
  EXPECT_EQ(d2.out.of_type(DataType::control).size(), 2u);
  EXPECT_TRUE(d2.out.of_type(DataType::audio).empty());
}

// Streaming sends, per segment, pieces whose concatenation is exactly the audio the
// whole-segment mode sends, between speech_start and speech_end, with contiguous timestamps.
TEST(SpeechSegmenter, streamed_pieces_add_up_to_the_whole_segment_audio) {
  // Two phrases; the first has a pause shorter than min_silence (a cancelled silence
  // candidate), the second runs to the end of the stream.
  const auto probs = cat(
      {frames(5, 0), frames(30, 1), frames(4, 0), frames(20, 1), frames(15, 0), frames(25, 1), frames(3, 0)});
  auto whole_cfg = cfg(100, 80, 30);
  Driver whole(whole_cfg);
  whole.feed(probs);
  whole.finish();
  auto stream_cfg = whole_cfg;
  stream_cfg.stream_audio = true;
  Driver streamed(stream_cfg);
  streamed.feed(probs);
  streamed.finish();

  auto segments = whole.out.of_type(DataType::audio);
  ASSERT_EQ(segments.size(), 2u);
  ASSERT_EQ(streamed.seg.segments().size(), 2u);
  std::vector<std::vector<float>> joined(2);
  std::vector<int> pieces(2, 0), finals(2, 0);
  int open_segment = -1, starts = 0;
  std::int64_t next_ts = -1;
  for (const auto& item : streamed.out.items) {
    if (item->type == DataType::control) {
      const auto& kind = item->control()->kind;
      if (kind == "speech_start") {
        EXPECT_EQ(open_segment, -1);
        open_segment = starts++;
        next_ts = i64(item->control()->payload.at("start_us"));
      } else {
        EXPECT_EQ(kind, "speech_end");
        ASSERT_GE(open_segment, 0);
        EXPECT_EQ(finals[std::size_t(open_segment)], 1) << "final piece before speech_end";
        EXPECT_EQ(i64(item->control()->payload.at("end_us")), next_ts);
        open_segment = -1;
      }
      continue;
    }
    ASSERT_EQ(item->type, DataType::audio);
    ASSERT_GE(open_segment, 0) << "audio piece outside speech_start/speech_end";
    const auto& md = item->metadata;
    EXPECT_EQ(i64(md.at("segment_index")), open_segment);
    EXPECT_TRUE(md.at("stream").as_bool());
    EXPECT_EQ(item->timestamp_us, next_ts) << "pieces are contiguous";
    const auto view = item->audio()->view();
    next_ts += std::int64_t(view.size()) * 1'000'000 / kRate;
    joined[std::size_t(open_segment)].insert(joined[std::size_t(open_segment)].end(), view.begin(),
                                             view.end());
    ++pieces[std::size_t(open_segment)];
    if (md.at("final").as_bool()) ++finals[std::size_t(open_segment)];
  }
  for (std::size_t i = 0; i < 2; ++i) {
    const auto want = segments[i]->audio()->view();
    EXPECT_EQ(joined[i], std::vector<float>(want.begin(), want.end())) << "segment " << i;
    EXPECT_GT(pieces[i], 3) << "segment " << i << " was not streamed in pieces";
    EXPECT_EQ(finals[i], 1);
    EXPECT_EQ(streamed.seg.segments()[i].start_us, whole.seg.segments()[i].start_us);
    EXPECT_EQ(streamed.seg.segments()[i].end_us, whole.seg.segments()[i].end_us);
  }
}

TEST(SpeechSegmenter, streaming_sends_the_first_piece_as_soon_as_speech_is_confirmed) {
  auto c = cfg(100, 80, 0);
  c.stream_audio = true;
  Driver d(c);
  d.feed(cat({frames(5, 0), frames(10, 1)}));  // 100 ms of speech: confirmed, still going
  ASSERT_EQ(d.out.items.size(), 2u);
  EXPECT_EQ(d.out.items[0]->control()->kind, "speech_start");
  ASSERT_EQ(d.out.items[1]->type, DataType::audio);
  EXPECT_EQ(d.out.items[1]->audio()->view().size(), 10 * kFrame);
  EXPECT_FALSE(d.out.items[1]->metadata.at("final").as_bool());
  d.feed(frames(1, 1));
  ASSERT_EQ(d.out.items.size(), 3u);
  EXPECT_EQ(d.out.items[2]->audio()->view().size(), kFrame);
}

TEST(SpeechSegmenter, reset_starts_a_new_time_base) {
  Driver d(cfg(50, 50, 0), 1'000'000);
  d.feed(cat({frames(10, 1), frames(10, 0)}));
  d.seg.reset();
  d.t0_us = 9'000'000;
  d.pos = 0;
  d.feed(cat({frames(5, 0), frames(10, 1), frames(10, 0)}));
  ASSERT_EQ(d.seg.segments().size(), 2u);
  EXPECT_EQ(d.seg.segments()[0].start_us, 1'000'000);
  EXPECT_EQ(d.seg.segments()[1].start_us, 9'050'000);
}

TEST(SpeechSegmenter, inconsistent_config_is_rejected) {
  auto bad_threshold = cfg(0, 0, 0);
  bad_threshold.threshold = 1.5f;
  EXPECT_THROW(SpeechSegmenter{bad_threshold}, std::invalid_argument);
  auto bad_neg = cfg(0, 0, 0);
  bad_neg.neg_threshold = 0.9f;
  EXPECT_THROW(SpeechSegmenter{bad_neg}, std::invalid_argument);
  auto bad_rate = cfg(0, 0, 0);
  bad_rate.sample_rate = 0;
  EXPECT_THROW(SpeechSegmenter{bad_rate}, std::invalid_argument);
  EXPECT_THROW(SpeechSegmenter{cfg(-1, 0, 0)}, std::invalid_argument);
}

}  // namespace
}  // namespace rm::nodes
