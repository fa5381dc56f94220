#include <gtest/gtest.h>

#include "node_test_util.hpp"

namespace rm::nodes {
namespace {

using namespace test;

TEST(PassThrough, forwards_every_input_as_the_same_shared_value) {
  auto node = make_node("PassThrough");
  const auto wav = read_wav(speech_dir() / "three_words_16k.wav");
  auto inputs = chunk_audio(wav.samples, wav.sample_rate, wav.channels, 320);
  inputs.push_back(RuntimeData::make_text("hello", 7));
  inputs.push_back(RuntimeData::make_control("speech_start", {{"start_us", 1}}, 8));
  auto out = run_node(*node, inputs);
  ASSERT_EQ(out.size(), inputs.size());
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].get(), inputs[i].get()) << "item " << i;
}

TEST(PassThrough, rejects_any_param_with_the_node_id) {
  auto err = make_error("PassThrough", R"({"chunk_size": 3})");
  EXPECT_NE(err.find("node n"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown param 'chunk_size'"), std::string::npos) << err;
}

}  // namespace
}  // namespace rm::nodes
