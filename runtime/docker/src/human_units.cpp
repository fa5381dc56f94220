#include "docker/human_units.hpp"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace rm::docker {

std::string human_size(std::int64_t bytes) {
  constexpr const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(std::max<std::int64_t>(bytes, 0));
  int u = 0;
  while (v >= 1000.0 && u < 4) {
    v /= 1000.0;
    ++u;
  }
  // Three significant digits, as `docker images` shows them.
  if (u == 0) return fmt::format("{} B", bytes);
  return v >= 100 ? fmt::format("{:.0f} {}", v, units[u]) : fmt::format("{:.3g} {}", v, units[u]);
}

std::string human_age(const std::string& created_unix_seconds, std::chrono::system_clock::time_point now) {
  char* end = nullptr;
  const long long t = std::strtoll(created_unix_seconds.c_str(), &end, 10);
  if (created_unix_seconds.empty() || end == nullptr || *end != '\0' || t <= 0) {
    return created_unix_seconds.empty() ? "unknown" : created_unix_seconds;
  }
  const long long s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() - t;
  auto ago = [](long long n, const char* unit) {
    return fmt::format("{} {}{} ago", n, unit, n == 1 ? "" : "s");
  };
  if (s < 60) return "just now";
  if (s < 3600) return ago(s / 60, "minute");
  if (s < 86400) return ago(s / 3600, "hour");
  if (s < 86400 * 60) return ago(s / 86400, "day");
  if (s < 86400 * 730) return ago(s / (86400 * 30), "month");
  return ago(s / (86400 * 365), "year");
}

}  // namespace rm::docker
