#include <bit>
#include <cstring>

#include "promql/storage.hpp"

namespace rm::promql {

namespace {
constexpr std::uint64_t kStaleNaN = 0x7ff0000000000002ULL;
}

bool is_stale_marker(double v) {
  return std::bit_cast<std::uint64_t>(v) == kStaleNaN;
}
double stale_marker() {
  return std::bit_cast<double>(kStaleNaN);
}

std::string format_labels(const Labels& labels) {
  std::string out;
  std::string name;
  for (const auto& [k, v] : labels) {
    if (k == "__name__") name = v;
  }
  out += name;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (k == "__name__") continue;
    if (!first) out += ", ";
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

bool labels_less(const Labels& a, const Labels& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i].first != b[i].first) return a[i].first < b[i].first;
    if (a[i].second != b[i].second) return a[i].second < b[i].second;
  }
  return a.size() < b.size();
}

bool matches_all(const std::vector<Matcher>& matchers, const Labels& labels) {
  static const std::string kEmpty;
  for (const auto& m : matchers) {
    const std::string* v = &kEmpty;
    for (const auto& [k, val] : labels) {
      if (k == m.name) {
        v = &val;
        break;
      }
    }
    if (!m.matches(*v)) return false;
  }
  return true;
}

}  // namespace rm::promql
