#include "core/config.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace rm::core {

std::optional<std::string> env(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string env_string(std::string_view name, std::string_view fallback) {
  auto v = env(name);
  return v ? *v : std::string(fallback);
}

ConfigResult<long long> parse_int(std::string_view what, std::string_view text) {
  long long out = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return tl::unexpected(ConfigError{fmt::format("{}='{}' is not an integer", what, text)});
  }
  return out;
}

ConfigResult<double> parse_double(std::string_view what, std::string_view text) {
  double out = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty() || !std::isfinite(out)) {
    return tl::unexpected(ConfigError{fmt::format("{}='{}' is not a finite number", what, text)});
  }
  return out;
}

ConfigResult<bool> parse_bool(std::string_view what, std::string_view text) {
  std::string t(text);
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
  if (t == "0" || t == "false" || t == "no" || t == "off") return false;
  return tl::unexpected(
      ConfigError{fmt::format("{}='{}' is not a boolean (use true/false, 1/0, yes/no, on/off)", what, text)});
}

ConfigResult<long long> env_int(std::string_view name, long long fallback, long long min, long long max) {
  auto v = env(name);
  if (!v) return fallback;
  auto parsed = parse_int(name, *v);
  if (!parsed) return parsed;
  if (*parsed < min || *parsed > max) {
    return tl::unexpected(
        ConfigError{fmt::format("{}={} is out of range [{}, {}]", name, *parsed, min, max)});
  }
  return parsed;
}

ConfigResult<double> env_double(std::string_view name, double fallback) {
  auto v = env(name);
  if (!v) return fallback;
  return parse_double(name, *v);
}

ConfigResult<bool> env_bool(std::string_view name, bool fallback) {
  auto v = env(name);
  if (!v) return fallback;
  return parse_bool(name, *v);
}

}  // namespace rm::core
