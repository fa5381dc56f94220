#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "node_test_util.hpp"

namespace rm::nodes {
namespace {

using namespace test;

std::string clean_text(const std::string& rules, const std::string& text) {
  auto node = make_node("TextCleanup", R"({"rules": )" + rules + "}");
  auto out = run_node(*node, {RuntimeData::make_text(text, 0)});
  EXPECT_EQ(out.size(), 1u);
  return out.empty() || !out[0]->text() ? "<none>" : out[0]->text()->text;
}

TEST(TextCleanup, each_rule_does_what_its_name_says) {
  EXPECT_EQ(clean_text(R"(["lowercase"])", "Hello WORLD"), "hello world");
  EXPECT_EQ(clean_text(R"(["uppercase"])", "Hello world"), "HELLO WORLD");
  EXPECT_EQ(clean_text(R"(["trim"])", " \t hello  world \n"), "hello  world");
  EXPECT_EQ(clean_text(R"(["collapse_whitespace"])", " hello \t\n world  "), " hello world ");
  EXPECT_EQ(clean_text(R"(["strip_punctuation"])", "Hello, world! Don't 'panic'."),
            "Hello world Don't panic");
}

TEST(TextCleanup, rules_apply_in_the_given_order_and_default_to_trim_and_collapse) {
  EXPECT_EQ(clean_text(R"(["lowercase", "trim", "collapse_whitespace"])", "  Hello   THERE  "),
            "hello there");
  // collapsing before stripping punctuation leaves the space the comma was next to
  EXPECT_EQ(clean_text(R"(["collapse_whitespace", "strip_punctuation", "trim"])", "a , b"), "a  b");
  auto node = make_node("TextCleanup");
  auto out = run_node(*node, {RuntimeData::make_text("  two   words ", 0)});
  EXPECT_EQ(out.at(0)->text()->text, "two words");
}

TEST(TextCleanup, non_ascii_utf8_is_left_intact) {
  EXPECT_EQ(clean_text(R"(["lowercase", "strip_punctuation"])", "Ÿes, Ünïcödé!"), "Ÿes Ünïcödé");
}

TEST(TextCleanup, cleans_the_transcript_or_text_field_of_json_and_keeps_the_rest) {
  auto node = make_node("TextCleanup", R"({"rules": ["lowercase", "trim"]})");
  boost::json::object with_transcript{{"transcript", "  HELLO "}, {"confidence", 0.9}};
  boost::json::object with_text{{"text", " World "}};
  boost::json::object other{{"score", 1}};
  auto out = run_node(
      *node, {RuntimeData::make_json(with_transcript, 1), RuntimeData::make_json(with_text, 2),
              RuntimeData::make_json(boost::json::string(" Plain "), 3), RuntimeData::make_json(other, 4)});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(boost::json::serialize(out[0]->json()->value), R"({"transcript":"hello","confidence":9E-1})");
  EXPECT_EQ(out[0]->timestamp_us, 1);
  EXPECT_EQ(out[1]->json()->value.at("text").as_string(), "world");
  EXPECT_EQ(out[2]->json()->value.as_string(), "plain");
  EXPECT_EQ(out[3]->json()->value, boost::json::value(other));
}

TEST(TextCleanup, unknown_rules_are_rejected_with_the_list_of_rules) {
  auto err = make_error("TextCleanup", R"({"rules": ["lowercase", "stem"]})");
  EXPECT_NE(
      err.find("params.rules has 'stem', expected one of: lowercase, uppercase, trim, collapse_whitespace, "
               "strip_punctuation"),
      std::string::npos)
      << err;
  EXPECT_NE(
      make_error("TextCleanup", R"({"rules": "lowercase"})").find("params.rules must be a list of strings"),
      std::string::npos);
}

}  // namespace
}  // namespace rm::nodes
