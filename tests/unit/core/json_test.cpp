#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cmath>
#include <limits>

#include "core/json.hpp"

using rm::core::to_json;
namespace json = boost::json;

TEST(CoreJson, doubles_are_the_shortest_text_that_reads_back_the_same) {
  EXPECT_EQ(to_json(json::value(0.188)), "0.188");
  EXPECT_EQ(to_json(json::value(6.916)), "6.916");
  EXPECT_EQ(to_json(json::value(1647.0)), "1647.0");
  EXPECT_EQ(to_json(json::value(1e21)), "1e+21");
  EXPECT_EQ(to_json(json::value(-2.5)), "-2.5");
  EXPECT_EQ(to_json(json::value(1e-7)), "1e-07");
  for (double v : {0.1, 1.0 / 3.0, 123456.789, 6.02214076e23, -0.0})
    EXPECT_EQ(json::parse(to_json(json::value(v))).as_double(), v) << v;
}

TEST(CoreJson, nan_and_infinity_become_null) {
  EXPECT_EQ(to_json(json::value(std::nan(""))), "null");
  EXPECT_EQ(to_json(json::value(std::numeric_limits<double>::infinity())), "null");
}

TEST(CoreJson, integers_strings_and_nesting_match_the_parser) {
  json::value v =
      json::parse(R"({"a":1,"b":-9223372036854775808,"c":18446744073709551615,"d":"q\"b\\s\n\t\u0001é",)"
                  R"("e":[true,false,null,[],{}],"f":{"g":0.5}})");
  const std::string text = to_json(v);
  EXPECT_EQ(json::parse(text), v);
  EXPECT_EQ(text, R"({"a":1,"b":-9223372036854775808,"c":18446744073709551615,"d":"q\"b\\s\n\t\u0001é",)"
                  R"("e":[true,false,null,[],{}],"f":{"g":0.5}})");
}

// One quoting for core's writer and the ipc control codec (core/json_escape.hpp): the bytes
// Python's json.dumps(s, ensure_ascii=False) writes, short escapes for \b and \f included.
TEST(CoreJson, strings_are_quoted_byte_for_byte_as_pythons_json_dumps_writes_them) {
  std::string out;
  rm::core::append_json_string(out, "q\"b\\s\n\t\r\b\f\x01\x1f\xc3\xa9/");
  EXPECT_EQ(out, R"("q\"b\\s\n\t\r\b\f\u0001\u001fé/")");
  out.clear();
  rm::core::append_json_string(out, "plain text");
  EXPECT_EQ(out, "\"plain text\"");
}
