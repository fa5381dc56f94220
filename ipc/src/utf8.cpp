#include "utf8.hpp"

#include <cstdint>

#include "wire.hpp"

namespace rm::ipc::detail {

std::size_t invalid_utf8_at(std::span<const std::byte> s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  auto at = [&](std::size_t k) { return std::to_integer<std::uint8_t>(s[k]); };
  while (i < n) {
    std::uint8_t c = at(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (n - i < len) return i;
    for (std::size_t k = 1; k < len; ++k) {
      std::uint8_t cc = at(i + k);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return i;
    i += len;
  }
  return std::string_view::npos;
}

tl::expected<std::string_view, IpcError> utf8_field(std::span<const std::byte> s, std::string_view field,
                                                    std::size_t base) {
  if (auto at = invalid_utf8_at(s); at != std::string_view::npos)
    return tl::unexpected(bad(field, base + at, "invalid UTF-8"));
  return as_text(s);
}

}  // namespace rm::ipc::detail
