// RFC 3339 decoder of untrusted query values: never crashes, and whatever it accepts
// formats back to an instant that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "telemetry/gateway/gateway_time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = rm::telemetry::parse_rfc3339(text);
  if (r) {
    auto again = rm::telemetry::parse_rfc3339(rm::telemetry::format_rfc3339(*r));
    if (!again || *again != *r) std::abort();
  }
  return 0;
}
