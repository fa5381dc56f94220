#pragma once
// JSON string quoting, the one implementation for core's JSON writer and the ipc control
// codec. Header-only and dependency-free on purpose: ipc/ (and libremotemedia_ipc.so) include
// it without linking rm_core. Output is what Python's json.dumps(..., ensure_ascii=False)
// writes: '"' and '\\' and control characters are escaped (\b \f \n \r \t short, the rest
// \u00XX); everything else, non-ASCII UTF-8 included, is copied as is.
#include <algorithm>
#include <string>
#include <string_view>

namespace rm::core {

inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  const auto plain = [](char c) { return c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20; };
  if (std::all_of(s.begin(), s.end(), plain)) {
    out += s;
    out += '"';
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
          out += kHex[static_cast<unsigned char>(c) & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace rm::core
