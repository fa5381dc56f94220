#include <gtest/gtest.h>

#include "telemetry/gateway/gateway_time.hpp"

using rm::telemetry::format_rfc3339;
using rm::telemetry::parse_rfc3339;

namespace {
constexpr std::int64_t kSec = 1'000'000'000;
// 2025-07-18T20:42:34Z, the first timestamp of the DCGM export.
constexpr std::int64_t kBase = 1752871354LL * kSec;
}  // namespace

TEST(Rfc3339, valid_forms_decode_to_the_same_instant) {
  struct Case {
    const char* text;
    std::int64_t ns;
  } cases[] = {
      {"2025-07-18T20:42:34Z", kBase},
      {"2025-07-18t20:42:34z", kBase},
      {"2025-07-18 20:42:34Z", kBase},
      {"2025-07-18T22:42:34+02:00", kBase},
      {"2025-07-18T15:12:34-05:30", kBase},
      {"2025-07-18T20:42:34+00:00", kBase},
      {"2025-07-18T20:42:34-00:00", kBase},
      {"2025-07-18T20:42:34.5Z", kBase + 500'000'000},
      {"2025-07-18T20:42:34.000000001Z", kBase + 1},
      {"2025-07-18T20:42:34.1234567891234Z", kBase + 123'456'789},  // truncated past ns
      {"2025-07-18T21:42:34.25+01:00", kBase + 250'000'000},
      {"1970-01-01T00:00:00Z", 0},
      {"1969-12-31T23:59:59.5Z", -500'000'000},
      {"2024-02-29T00:00:00Z", 1709164800LL * kSec},
      {"2000-02-29T12:00:00Z", 951825600LL * kSec},
      {"2016-12-31T23:59:60Z", 1483228800LL * kSec},  // leap second = next minute's first
      {"2262-04-11T23:47:16Z", 9223372036LL * kSec},
      {"1677-09-22T00:00:00Z", -9223286400LL * kSec},
  };
  for (const auto& c : cases) {
    auto r = parse_rfc3339(c.text);
    ASSERT_TRUE(r) << c.text << ": " << r.error().message;
    EXPECT_EQ(*r, c.ns) << c.text;
  }
}

TEST(Rfc3339, invalid_forms_are_rejected_with_a_reason_and_an_example) {
  const char* bad[] = {
      "",
      "2025",
      "2025-07-18",                 // date only
      "2025-07-18T20:42:34",        // no zone
      "2025-07-18T20:42Z",          // no seconds
      "2025-7-18T20:42:34Z",        // one-digit month
      "2025-07-18X20:42:34Z",       // bad separator
      "2025-13-01T00:00:00Z",       // month 13
      "2025-00-01T00:00:00Z",       // month 0
      "2025-02-29T00:00:00Z",       // not a leap year
      "1900-02-29T00:00:00Z",       // century, not a leap year
      "2025-04-31T00:00:00Z",       // April has 30 days
      "2025-07-00T00:00:00Z",       // day 0
      "2025-07-18T24:00:00Z",       // hour 24
      "2025-07-18T20:60:00Z",       // minute 60
      "2025-07-18T20:42:61Z",       // second 61
      "2025-07-18T20:42:34.Z",      // empty fraction
      "2025-07-18T20:42:34+2:00",   // one-digit offset
      "2025-07-18T20:42:34+02",     // offset without minutes
      "2025-07-18T20:42:34+0200",   // offset without colon
      "2025-07-18T20:42:34+24:00",  // offset hour 24
      "2025-07-18T20:42:34+02:60",  // offset minute 60
      "2025-07-18T20:42:34Zjunk",   // trailing
      "2025-07-18T20:42:34Z ",      // trailing space
      " 2025-07-18T20:42:34Z",      // leading space
      "2025-07-18T20:42:34 UTC",    // zone name
      "1752871354",                 // epoch seconds
      "2262-04-12T00:00:00Z",       // beyond int64 nanoseconds
      "1600-01-01T00:00:00Z",       // before int64 nanoseconds
      "9999-12-31T23:59:59Z",
      "２０２５-07-18T20:42:34Z",  // non-ASCII digits
  };
  for (const char* text : bad) {
    auto r = parse_rfc3339(text);
    ASSERT_FALSE(r) << "accepted: '" << text << "' as " << *r;
    EXPECT_NE(r.error().message.find("RFC 3339"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("2025-07-18T20:42:34Z"), std::string::npos) << r.error().message;
  }
}

TEST(Rfc3339, format_then_parse_round_trips) {
  for (std::int64_t ns : {kBase, kBase + 1, kBase + 999'999'999, std::int64_t{0}, std::int64_t{-1},
                          -86'400 * kSec - 7, std::int64_t{1709164800} * kSec + 42}) {
    auto text = format_rfc3339(ns);
    auto back = parse_rfc3339(text);
    ASSERT_TRUE(back) << text << ": " << back.error().message;
    EXPECT_EQ(*back, ns) << text;
  }
  EXPECT_EQ(format_rfc3339(kBase), "2025-07-18T20:42:34Z");
  EXPECT_EQ(format_rfc3339(kBase + 500'000'000), "2025-07-18T20:42:34.5Z");
  EXPECT_EQ(format_rfc3339(kBase + 1), "2025-07-18T20:42:34.000000001Z");
}

TEST(Rfc3339, parse_succeeds_or_fails_cleanly_on_every_prefix) {
  const std::string full = "2025-07-18T20:42:34.123456789+02:00";
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto r = parse_rfc3339(full.substr(0, n));
    // Only the prefixes ending right after the seconds' fraction digits with a zone are valid;
    // none of the truncated ones has a complete zone.
    EXPECT_FALSE(r) << full.substr(0, n);
  }
  EXPECT_TRUE(parse_rfc3339(full));
}

TEST(GatewayTime, retention_durations_parse_with_units_and_refuse_anything_else) {
  using rm::telemetry::parse_duration_ns;
  EXPECT_EQ(parse_duration_ns("RETENTION", "24h").value(), 24LL * 3600 * 1'000'000'000);
  EXPECT_EQ(parse_duration_ns("RETENTION", "90m").value(), 90LL * 60 * 1'000'000'000);
  EXPECT_EQ(parse_duration_ns("RETENTION", "7d").value(), 7LL * 86400 * 1'000'000'000);
  EXPECT_EQ(parse_duration_ns("RETENTION", "0").value(), 0);
  for (const char* bad : {"24", "h", "-5m", "1.5h", "10w", "99999999999999d"}) {
    auto r = parse_duration_ns("RETENTION", bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("RETENTION"), std::string::npos) << r.error().message;
  }
}
