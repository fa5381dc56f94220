#pragma once
// Bounds-checked little-endian reading and writing of envelope fields, and the errors that name
// the field and offset where untrusted bytes went wrong. Internal to ipc/.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "ipc/ipc_error.hpp"

namespace rm::ipc::detail {

inline IpcError bad(std::string_view field, std::size_t offset, const std::string& what) {
  return IpcError{IpcErrc::format, "envelope: field '" + std::string(field) + "' at offset " +
                                       std::to_string(offset) + ": " + what};
}

inline IpcError too_small(std::string_view what, std::size_t need, std::size_t have) {
  return IpcError{IpcErrc::invalid_argument, std::string(what) + ": output buffer of " +
                                                 std::to_string(have) + " bytes, need " +
                                                 std::to_string(need)};
}

// Bounds-checked little-endian reader over untrusted bytes. Every read names its field, so
// the first failure explains itself.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> in, std::size_t base = 0) : in_(in), base_(base) {}

  template <typename T>
  tl::expected<T, IpcError> uint(std::string_view field) {
    if (in_.size() - pos_ < sizeof(T))
      return tl::unexpected(bad(field, base_ + pos_,
                                "truncated: needs " + std::to_string(sizeof(T)) + " bytes, " +
                                    std::to_string(in_.size() - pos_) + " left"));
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(in_[pos_ + i])) << (8 * i);
    pos_ += sizeof(T);
    return static_cast<T>(v);
  }

  tl::expected<std::span<const std::byte>, IpcError> bytes(std::string_view field, std::uint64_t n) {
    if (n > in_.size() - pos_)
      return tl::unexpected(bad(field, base_ + pos_,
                                "length " + std::to_string(n) + " exceeds the " +
                                    std::to_string(in_.size() - pos_) + " bytes left"));
    auto s = in_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }

  std::span<const std::byte> rest() {
    auto s = in_.subspan(pos_);
    pos_ = in_.size();
    return s;
  }
  std::size_t offset() const { return base_ + pos_; }
  std::size_t left() const { return in_.size() - pos_; }

 private:
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  std::size_t base_;
};

class Writer {
 public:
  explicit Writer(std::span<std::byte> out) : out_(out) {}
  template <typename T>
  void uint(T v) {
    auto u = static_cast<std::uint64_t>(v);
    for (std::size_t i = 0; i < sizeof(T); ++i)
      out_[pos_ + i] = static_cast<std::byte>((u >> (8 * i)) & 0xFF);
    pos_ += sizeof(T);
  }
  void bytes(const void* p, std::size_t n) {
    if (n != 0) std::memcpy(out_.data() + pos_, p, n);
    pos_ += n;
  }
  std::size_t pos() const { return pos_; }
  std::span<std::byte> rest() { return out_.subspan(pos_); }

 private:
  std::span<std::byte> out_;
  std::size_t pos_ = 0;
};

}  // namespace rm::ipc::detail
