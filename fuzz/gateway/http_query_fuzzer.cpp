// Query-string and path decoding of untrusted request targets: never crashes; decoded
// values re-encode and decode to themselves.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/http.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto q = rm::core::http::QueryParams::parse(text);
  if (q) {
    for (const auto& [k, v] : q->items()) {
      auto back = rm::core::http::percent_decode(rm::core::http::percent_encode(v));
      if (!back || *back != v) std::abort();
      (void)k;
    }
  }
  rm::core::http::Router router;
  router.get("/api/v1/gpus/{id}/telemetry", [](const rm::core::http::Request& r) {
    return rm::core::http::text_response(200, std::string(r.param("id")));
  });
  (void)router.handle(rm::core::http::make_request("GET", text));
  return 0;
}
