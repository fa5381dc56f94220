#include "telemetry/gateway/gateway_time.hpp"

#include <charconv>
#include <limits>

#include <fmt/format.h>

namespace rm::telemetry {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

class Reader {
 public:
  explicit Reader(std::string_view t) : t_(t) {}
  // Reads exactly n digits.
  bool digits(std::size_t n, unsigned& out) {
    if (pos_ + n > t_.size()) return false;
    unsigned v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      char c = t_[pos_ + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    pos_ += n;
    out = v;
    return true;
  }
  bool expect(char c) {
    if (pos_ < t_.size() && t_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool done() const { return pos_ == t_.size(); }
  char peek() const { return pos_ < t_.size() ? t_[pos_] : '\0'; }
  void skip() { ++pos_; }
  std::size_t pos() const { return pos_; }

 private:
  std::string_view t_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<std::int64_t> parse_rfc3339(std::string_view text) {
  auto fail = [&](std::size_t at, std::string_view what) {
    std::string shown(text.substr(0, 64));
    return telemetry_error(
        TelemetryErrc::invalid_argument,
        fmt::format("'{}' is not an RFC 3339 time: {} at offset {} (expected e.g. 2025-07-18T20:42:34Z or "
                    "2025-07-18T22:42:34.5+02:00)",
                    shown, what, at));
  };
  Reader r(text);
  unsigned year, month, day, hour, minute, second;
  if (!r.digits(4, year)) return fail(r.pos(), "year needs 4 digits");
  if (!r.expect('-')) return fail(r.pos(), "expected '-'");
  if (!r.digits(2, month)) return fail(r.pos(), "month needs 2 digits");
  if (!r.expect('-')) return fail(r.pos(), "expected '-'");
  if (!r.digits(2, day)) return fail(r.pos(), "day needs 2 digits");
  if (!(r.expect('T') || r.expect('t') || r.expect(' '))) {
    return fail(r.pos(), "expected 'T' between date and time");
  }
  if (!r.digits(2, hour)) return fail(r.pos(), "hour needs 2 digits");
  if (!r.expect(':')) return fail(r.pos(), "expected ':'");
  if (!r.digits(2, minute)) return fail(r.pos(), "minute needs 2 digits");
  if (!r.expect(':')) return fail(r.pos(), "expected ':'");
  if (!r.digits(2, second)) return fail(r.pos(), "second needs 2 digits");
  std::int64_t frac_ns = 0;
  if (r.expect('.')) {
    std::size_t n = 0;
    std::int64_t scale = 100'000'000;
    while (r.peek() >= '0' && r.peek() <= '9') {
      if (n < 9) {
        frac_ns += (r.peek() - '0') * scale;
        scale /= 10;
      }
      ++n;
      r.skip();
    }
    if (n == 0) return fail(r.pos(), "fraction needs at least one digit after '.'");
  }
  int offset_sign = 0;
  unsigned off_h = 0, off_m = 0;
  if (r.expect('Z') || r.expect('z')) {
    offset_sign = 0;
  } else if (r.peek() == '+' || r.peek() == '-') {
    offset_sign = r.peek() == '+' ? 1 : -1;
    r.skip();
    if (!r.digits(2, off_h)) return fail(r.pos(), "offset hour needs 2 digits");
    if (!r.expect(':')) return fail(r.pos(), "expected ':' in the offset");
    if (!r.digits(2, off_m)) return fail(r.pos(), "offset minute needs 2 digits");
    if (off_h > 23 || off_m > 59) return fail(r.pos() - 5, "offset out of range");
  } else {
    return fail(r.pos(), "missing time zone ('Z' or an offset like +02:00)");
  }
  if (!r.done()) return fail(r.pos(), "unexpected trailing characters");
  if (month < 1 || month > 12) return fail(5, "month out of range 01-12");
  if (day < 1 || day > days_in_month(year, month)) return fail(8, "day out of range for the month");
  if (hour > 23) return fail(11, "hour out of range 00-23");
  if (minute > 59) return fail(14, "minute out of range 00-59");
  if (second > 60) return fail(17, "second out of range 00-60");

  // Everything below fits in int64 seconds comfortably (years 0-9999).
  std::int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                      offset_sign * static_cast<std::int64_t>(off_h * 3600 + off_m * 60);
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  if (secs > (kMax - frac_ns) / 1'000'000'000 || secs < kMin / 1'000'000'000 + 1) {
    return fail(0, "time outside the supported range 1677-09-22..2262-04-11");
  }
  return secs * 1'000'000'000 + frac_ns;
}

Result<std::int64_t> parse_duration_ns(std::string_view what, std::string_view text) {
  auto bad = [&] {
    return telemetry_error(
        TelemetryErrc::invalid_argument,
        fmt::format("{}='{}' must be a duration like 24h, 90m, 3600s or 7d (0 = off)", what, text));
  };
  if (text == "0" || text.empty()) return 0;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc{} || end != text.data() + text.size() - 1 || n <= 0) return bad();
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return bad();
  }
  if (n > std::numeric_limits<std::int64_t>::max() / 1'000'000'000 / unit) return bad();
  return n * unit * 1'000'000'000;
}

UnixTime split_unix_ns(std::int64_t unix_ns) {
  UnixTime t{unix_ns / 1'000'000'000, unix_ns % 1'000'000'000};
  if (t.ns < 0) {
    t.ns += 1'000'000'000;
    t.secs -= 1;
  }
  return t;
}

void append_fraction(std::string& out, std::int64_t ns) {
  if (ns == 0) return;
  char buf[9];
  for (int i = 8; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + ns % 10);
    ns /= 10;
  }
  std::size_t n = 9;
  while (buf[n - 1] == '0') --n;
  out += '.';
  out.append(buf, n);
}

std::string format_rfc3339(std::int64_t unix_ns) {
  const auto [secs, ns] = split_unix_ns(unix_ns);
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, rem / 3600, (rem / 60) % 60, rem % 60);
  append_fraction(out, ns);
  out += 'Z';
  return out;
}

}  // namespace rm::telemetry
