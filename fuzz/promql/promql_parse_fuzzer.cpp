// PromQL parser on untrusted input: never crashes, and anything it accepts has a type the
// evaluator handles; durations it accepts format back to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "promql/parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = rm::promql::parse(text);
  if (!e && e.error().message.empty()) std::abort();
  auto d = rm::promql::parse_duration(text);
  if (d && *d >= 0 && *d < (1LL << 50)) {
    auto again = rm::promql::parse_duration(rm::promql::format_duration(*d));
    if (!again || *again != *d) std::abort();
  }
  return 0;
}
