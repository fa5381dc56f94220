#pragma once
// UTF-8 checks for text fields read from untrusted bytes (overlong forms, surrogates and code
// points past U+10FFFF are rejected). Internal to ipc/.
#include <cstddef>
#include <span>
#include <string_view>

#include <tl/expected.hpp>

#include "ipc/ipc_error.hpp"

namespace rm::ipc::detail {

inline std::string_view as_text(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Returns the offset of the first invalid UTF-8 byte, or npos.
std::size_t invalid_utf8_at(std::span<const std::byte> s);

// The bytes as text, or a format error naming `field` and the offset (base + index) of the
// first invalid byte.
tl::expected<std::string_view, IpcError> utf8_field(std::span<const std::byte> s, std::string_view field,
                                                    std::size_t base);

}  // namespace rm::ipc::detail
