#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "node_test_util.hpp"

namespace rm::nodes {
namespace {

using namespace test;

std::vector<DataPtr> vad_outputs() {
  const auto wav = read_wav(speech_dir() / "three_words_16k.wav");
  auto vad = make_node("WebRtcVAD");
  auto out = run_node(*vad, chunk_audio(wav.samples, 16000, 1, 320));
  out.push_back(RuntimeData::make_text("hello seven window", 4'000'000, {{"source", "asr"}}));
  return out;
}

TEST(OutputCollector, collects_vad_events_audio_summaries_and_text_as_json_lines) {
  auto inputs = vad_outputs();
  ASSERT_EQ(inputs.size(), 10u);
  auto node = make_node("OutputCollector");
  auto out = run_node(*node, inputs);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_NE(out[0]->text(), nullptr);
  EXPECT_EQ(out[0]->timestamp_us, 4'000'000);
  EXPECT_EQ(out[0]->metadata.at("items").as_int64(), 10);
  std::vector<boost::json::object> lines;
  std::string all = out[0]->text()->text, line;
  for (char c : all) {
    if (c == '\n') {
      lines.push_back(boost::json::parse(line).as_object());
      line.clear();
    } else {
      line += c;
    }
  }
  EXPECT_TRUE(line.empty());
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0].at("type").as_string(), "control");
  EXPECT_EQ(lines[0].at("kind").as_string(), "speech_start");
  EXPECT_EQ(lines[1].at("type").as_string(), "audio");
  EXPECT_EQ(lines[1].at("sample_rate").as_int64(), 16000);
  EXPECT_GT(lines[1].at("frames").as_int64(), 4000);
  EXPECT_TRUE(lines[1].at("metadata").as_object().contains("start_us"));
  EXPECT_EQ(lines[2].at("kind").as_string(), "speech_end");
  EXPECT_EQ(lines[9].at("text").as_string(), "hello seven window");
  EXPECT_EQ(lines[9].at("metadata").at("source").as_string(), "asr");
}

TEST(OutputCollector, array_format_without_audio_and_with_forwarding) {
  auto inputs = vad_outputs();
  auto node = make_node("OutputCollector", R"({"format": "array", "include_audio": false, "forward": true})");
  auto out = run_node(*node, inputs);
  ASSERT_EQ(out.size(), inputs.size() + 1);  // every input forwarded, then the collection
  for (std::size_t i = 0; i < inputs.size(); ++i) EXPECT_EQ(out[i].get(), inputs[i].get());
  const auto& arr = out.back()->json()->value.as_array();
  ASSERT_EQ(arr.size(), 7u);  // 3 x (start, end) + text
  for (const auto& e : arr) EXPECT_NE(e.at("type").as_string(), "audio");
}

TEST(OutputCollector, an_empty_stream_gives_an_empty_collection) {
  auto node = make_node("OutputCollector", R"({"format": "array"})");
  auto out = run_node(*node, {});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0]->json()->value.as_array().empty());
}

TEST(OutputCollector, more_than_max_items_is_an_error_naming_the_limit) {
  auto node = make_node("OutputCollector", R"({"max_items": 2})");
  CollectingEmitter out;
  ASSERT_TRUE(node->process(RuntimeData::make_text("a", 0), out));
  ASSERT_TRUE(node->process(RuntimeData::make_text("b", 1), out));
  auto st = node->process(RuntimeData::make_text("c", 2), out);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("node n: OutputCollector already holds max_items = 2 entries"),
            std::string::npos)
      << st.error().message;
  node->close();
  EXPECT_NE(make_error("OutputCollector", R"({"format": "csv"})").find("expected one of: jsonl, array"),
            std::string::npos);
}

}  // namespace
}  // namespace rm::nodes
