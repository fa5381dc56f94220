#pragma once
// RFC 3339 timestamps for the API gateway: the decoder of untrusted `start_time`/`end_time`
// query values, and the encoder used in responses.
//
// Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, with 't'/'z' in lower case
// too and a space instead of 'T' (RFC 3339 section 5.6 note). The fraction may have any number
// of digits; digits beyond nanoseconds are truncated. A leap second (:60) is accepted and
// counts as the first second of the next minute. Dates are checked against the calendar
// (February 29 only in leap years). Times outside what int64 nanoseconds since the Unix epoch
// can hold (about 1677-09-21 to 2262-04-11) are rejected. Errors say what is wrong and where.
#include <cstdint>
#include <string>
#include <string_view>

#include "telemetry/error.hpp"

namespace rm::telemetry {

// Errors: invalid_argument, the message naming the text, what is wrong and the offset.
[[nodiscard]] Result<std::int64_t> parse_rfc3339(std::string_view text);

// UTC, 'Z' suffix, fraction with trailing zeros removed ("2025-07-18T20:42:34.5Z"; no
// fraction when whole seconds).
[[nodiscard]] std::string format_rfc3339(std::int64_t unix_ns);

// A duration like "24h", "90m", "3600s", "7d" or "0" (= off) for RETENTION; errors name
// `what` and the text (invalid_argument).
[[nodiscard]] Result<std::int64_t> parse_duration_ns(std::string_view what, std::string_view text);
// Unix nanoseconds as whole seconds (rounded down, also before 1970) and 0..999999999 ns.
struct UnixTime {
  std::int64_t secs;
  std::int64_t ns;
};
[[nodiscard]] UnixTime split_unix_ns(std::int64_t unix_ns);
// Appends ".<ns>" without trailing zeros (".5", ".000000001"); nothing when ns is 0.
void append_fraction(std::string& out, std::int64_t ns);

}  // namespace rm::telemetry
