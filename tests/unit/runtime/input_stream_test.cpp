#include "runtime/input_stream.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "runtime/executor.hpp"
#include "test_nodes.hpp"

namespace rm::runtime {
namespace {

AudioBuffer clip(std::uint32_t rate, std::uint16_t channels, std::size_t frames) {
  AudioBuffer a;
  a.sample_rate = rate;
  a.channels = channels;
  a.samples.resize(frames * channels);
  for (std::size_t i = 0; i < a.samples.size(); ++i) a.samples[i] = float(i % 1000) / 1000.0f;
  return a;
}

TEST(AudioInputStream, cuts_a_clip_into_20ms_chunks_stamped_with_the_media_time_of_their_first_frame) {
  AudioInputStream s;
  s.add("mic", clip(16000, 2, 16160));  // 1.01 s: 50 full chunks and one of 160 frames
  std::vector<InputItem> items;
  while (auto it = s.next()) items.push_back(std::move(*it));
  ASSERT_EQ(items.size(), 51u);
  std::size_t frames = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i].input, "mic");
    EXPECT_EQ(items[i].data->timestamp_us, static_cast<std::int64_t>(i * 20000));
    const auto* a = items[i].data->audio();
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->channels, 2);
    frames += a->frames();
  }
  EXPECT_EQ(items.back().data->audio()->frames(), 160u);
  EXPECT_EQ(frames, 16160u);
  // Samples come out in order, interleaving kept.
  EXPECT_FLOAT_EQ(items[1].data->audio()->view()[0], float((320 * 2) % 1000) / 1000.0f);
  EXPECT_DOUBLE_EQ(s.position_s(), 1.0);
  EXPECT_DOUBLE_EQ(s.duration_s(), 1.01);
}

TEST(AudioInputStream, interleaves_several_inputs_in_media_time_order) {
  AudioInputStream s;
  s.add("a", clip(16000, 1, 16000 / 10));  // 100 ms: 5 chunks
  s.add("b", clip(44100, 1, 44100 / 20));  // 50 ms: 3 chunks (882, 882, 441 frames)
  std::vector<std::pair<std::string, std::int64_t>> order;
  while (auto it = s.next()) order.emplace_back(it->input, it->data->timestamp_us);
  std::vector<std::pair<std::string, std::int64_t>> want = {
      {"a", 0}, {"b", 0}, {"a", 20000}, {"b", 20000}, {"a", 40000}, {"b", 40000}, {"a", 60000}, {"a", 80000}};
  EXPECT_EQ(order, want);
}

TEST(AudioInputStream, an_empty_clip_gives_no_chunks) {
  AudioInputStream s;
  s.add("a", clip(16000, 1, 0));
  EXPECT_FALSE(s.next());
}

class Feed : public testing::WithTestNodes {};

TEST_F(Feed, pushes_every_chunk_of_the_stream_then_ends_the_session) {
  auto ex = make(
      "version: v1\nnodes: [{id: relay, node_type: TestRelay}]\nconnections: [{from: mic, to: relay}]\n");
  std::size_t outputs = 0, frames = 0;
  auto s = ex.start_session({.on_output = [&](const std::string&, const DataPtr& d) {
    ++outputs;
    frames += d->audio()->frames();
  }});
  ASSERT_TRUE(s);
  AudioInputStream in;
  in.add("", clip(16000, 1, 16160));  // no name: the pipeline's only input
  ASSERT_TRUE((*s)->feed(in));
  auto st = (*s)->wait();
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(outputs, 51u);
  EXPECT_EQ(frames, 16160u);
}

TEST_F(Feed, an_item_naming_no_input_fails_when_the_pipeline_has_two_inputs) {
  auto ex = make(
      "version: v1\nnodes: [{id: relay, node_type: TestRelay}]\n"
      "connections: [{from: left, to: relay}, {from: right, to: relay}]\n");
  AudioInputStream in;
  in.add("", clip(16000, 1, 320));
  auto st = ex.execute_streaming(in, [](const std::string&, const DataPtr&) {});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, NodeErrorCode::invalid_input);
  EXPECT_EQ(st.error().message, "an input item names no input, and the pipeline has 2 inputs");
}

TEST_F(Feed, a_failing_node_stops_the_feed_and_wait_names_that_node) {
  auto ex = make(
      "version: v1\nnodes: [{id: breaks, node_type: TestFail, params: {fail_at: 3}}]\n"
      "connections: [{from: mic, to: breaks}]\n");
  AudioInputStream in;
  in.add("mic", clip(16000, 1, 16000 * 60));  // far more than the queue holds: the push must fail
  auto st = ex.execute_streaming(in, [](const std::string&, const DataPtr&) {});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().node_id, "breaks");
  EXPECT_NE(st.error().message.find("node breaks"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace rm::runtime
