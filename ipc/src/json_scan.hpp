#pragma once
// JSON for the control payload, without a JSON library (ipc/ has no dependencies):
// JsonScan is a small validating scanner, just enough to read the control object
// {"kind": "...", "payload": {...}} from untrusted bytes; nesting is bounded so hostile input
// cannot exhaust the stack. json_quote writes a string the way Python's json.dumps does, so
// an encoded control payload is byte-for-byte what the Python SDK writes. Internal to ipc/.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "ipc/ipc_error.hpp"
#include "wire.hpp"

namespace rm::ipc::detail {

class JsonScan {
 public:
  static constexpr int kMaxDepth = 64;
  JsonScan(std::string_view s, std::size_t base) : s_(s), base_(base) {}

  std::size_t pos() const { return pos_; }
  bool at_end() {
    ws();
    return pos_ == s_.size();
  }
  bool peek(char c) {
    ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  bool eat(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  // Parses a string at the cursor into `out` (unescaped utf-8).
  tl::expected<void, IpcError> string(std::string& out);
  // Validates one value at the cursor; returns where it starts (relative to the text).
  tl::expected<std::size_t, IpcError> value(int depth = 0);
  IpcError error(const std::string& what) const { return bad("control", base_ + pos_, what); }

 private:
  tl::unexpected<IpcError> fail(const std::string& what) const {
    return tl::unexpected(error("invalid JSON: " + what));
  }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  tl::expected<void, IpcError> number();
  tl::expected<std::uint32_t, IpcError> hex4();
  static void append_utf8(std::string& out, std::uint32_t u);

  std::string_view s_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

// JSON string escaping as Python's json.dumps(ensure_ascii=False) does it: only '"', '\\' and
// control characters are escaped; everything else (including non-ASCII utf-8) is copied.
std::string json_quote(std::string_view s);

}  // namespace rm::ipc::detail
