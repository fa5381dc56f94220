#include "json_scan.hpp"

#include "core/json_escape.hpp"

namespace rm::ipc::detail {

tl::expected<void, IpcError> JsonScan::string(std::string& out) {
  ws();
  if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a string");
  ++pos_;
  while (pos_ < s_.size()) {
    char c = s_[pos_++];
    if (c == '"') return {};
    if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (pos_ >= s_.size()) break;
    char e = s_[pos_++];
    switch (e) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '/':
        out.push_back('/');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        auto cp = hex4();
        if (!cp) return tl::unexpected(cp.error());
        std::uint32_t u = *cp;
        if (u >= 0xD800 && u <= 0xDBFF) {
          if (s_.substr(pos_, 2) != "\\u") return fail("unpaired surrogate escape");
          pos_ += 2;
          auto lo = hex4();
          if (!lo) return tl::unexpected(lo.error());
          if (*lo < 0xDC00 || *lo > 0xDFFF) return fail("unpaired surrogate escape");
          u = 0x10000 + ((u - 0xD800) << 10) + (*lo - 0xDC00);
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
          return fail("unpaired surrogate escape");
        }
        append_utf8(out, u);
        break;
      }
      default:
        return fail(std::string("invalid escape \\") + e);
    }
  }
  return fail("unterminated string");
}

tl::expected<std::size_t, IpcError> JsonScan::value(int depth) {
  ws();
  if (depth > kMaxDepth) return fail("nesting deeper than 64");
  if (pos_ >= s_.size()) return fail("expected a value");
  std::size_t start = pos_;
  char c = s_[pos_];
  if (c == '"') {
    std::string ignored;
    if (auto r = string(ignored); !r) return tl::unexpected(r.error());
  } else if (c == '{' || c == '[') {
    const char close = c == '{' ? '}' : ']';
    ++pos_;
    if (!eat(close)) {
      do {
        if (c == '{') {
          std::string key;
          if (auto r = string(key); !r) return tl::unexpected(r.error());
          if (!eat(':')) return fail("expected ':'");
        }
        if (auto r = value(depth + 1); !r) return r;
      } while (eat(','));
      if (!eat(close)) return fail(std::string("expected ',' or '") + close + "'");
    }
  } else if (c == 't' || c == 'f' || c == 'n') {
    for (std::string_view lit : {"true", "false", "null"})
      if (s_.substr(pos_, lit.size()) == lit) {
        pos_ += lit.size();
        return start;
      }
    return fail("invalid literal");
  } else {
    if (auto r = number(); !r) return tl::unexpected(r.error());
  }
  return start;
}

tl::expected<void, IpcError> JsonScan::number() {
  auto digit = [&] { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; };
  auto digits = [&] {
    if (!digit()) return false;
    while (digit()) ++pos_;
    return true;
  };
  if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
  if (pos_ < s_.size() && s_[pos_] == '0') {
    ++pos_;
  } else if (!digits()) {
    return fail("expected a value");
  }
  if (pos_ < s_.size() && s_[pos_] == '.') {
    ++pos_;
    if (!digits()) return fail("expected digits after '.'");
  }
  if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
    if (!digits()) return fail("expected exponent digits");
  }
  return {};
}

tl::expected<std::uint32_t, IpcError> JsonScan::hex4() {
  if (s_.size() - pos_ < 4) return fail("truncated \\u escape");
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    char h = s_[pos_++];
    v <<= 4;
    if (h >= '0' && h <= '9')
      v |= static_cast<std::uint32_t>(h - '0');
    else if (h >= 'a' && h <= 'f')
      v |= static_cast<std::uint32_t>(h - 'a' + 10);
    else if (h >= 'A' && h <= 'F')
      v |= static_cast<std::uint32_t>(h - 'A' + 10);
    else
      return fail("invalid \\u escape");
  }
  return v;
}

void JsonScan::append_utf8(std::string& out, std::uint32_t u) {
  if (u < 0x80) {
    out.push_back(static_cast<char>(u));
  } else if (u < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (u >> 6)));
    out.push_back(static_cast<char>(0x80 | (u & 0x3F)));
  } else if (u < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (u >> 12)));
    out.push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (u & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (u >> 18)));
    out.push_back(static_cast<char>(0x80 | ((u >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (u & 0x3F)));
  }
}

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  core::append_json_string(out, s);
  return out;
}

}  // namespace rm::ipc::detail
