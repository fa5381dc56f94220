#include "ipc/envelope.hpp"

#include <cstring>
#include <string>

namespace rm::ipc {
namespace {

IpcError bad(std::string_view field, std::size_t offset, const std::string& what) {
  return IpcError{IpcErrc::format, "envelope: field '" + std::string(field) + "' at offset " +
                                       std::to_string(offset) + ": " + what};
}

IpcError too_small(std::string_view what, std::size_t need, std::size_t have) {
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

  tl::expected<std::span<const std::byte>, IpcError> bytes(std::string_view field,
                                                           std::uint64_t n) {
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

std::string_view as_text(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Returns the offset of the first invalid UTF-8 byte, or npos.
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

tl::expected<std::string_view, IpcError> utf8_field(std::span<const std::byte> s,
                                                    std::string_view field, std::size_t base) {
  if (auto at = invalid_utf8_at(s); at != std::string_view::npos)
    return tl::unexpected(bad(field, base + at, "invalid UTF-8"));
  return as_text(s);
}

// A small validating JSON scanner, just enough to read the control object
// {"kind": "...", "payload": {...}} from untrusted bytes without a JSON library (ipc/ has no
// dependencies). Nesting is bounded so hostile input cannot exhaust the stack.
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
  tl::expected<void, IpcError> string(std::string& out) {
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
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
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
  // Validates one value at the cursor; returns where it starts (relative to the text).
  tl::expected<std::size_t, IpcError> value(int depth = 0) {
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
  IpcError error(const std::string& what) const { return bad("control", base_ + pos_, what); }

 private:
  tl::unexpected<IpcError> fail(const std::string& what) const {
    return tl::unexpected(error("invalid JSON: " + what));
  }
  void ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  tl::expected<void, IpcError> number() {
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
  tl::expected<std::uint32_t, IpcError> hex4() {
    if (s_.size() - pos_ < 4) return fail("truncated \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<std::uint32_t>(h - 'A' + 10);
      else return fail("invalid \\u escape");
    }
    return v;
  }
  static void append_utf8(std::string& out, std::uint32_t u) {
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

  std::string_view s_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

// JSON string escaping as Python's json.dumps(ensure_ascii=False) does it: only '"', '\\' and
// control characters are escaped; everything else (including non-ASCII utf-8) is copied.
std::string json_quote(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(hex[u >> 4]);
          out.push_back(hex[u & 15]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

constexpr std::string_view kControlKindKey = R"({"kind":)";
constexpr std::string_view kControlPayloadKey = R"(,"payload":)";

}  // namespace

std::string_view to_string(EnvelopeType t) {
  switch (t) {
    case EnvelopeType::audio: return "audio";
    case EnvelopeType::video: return "video";
    case EnvelopeType::text: return "text";
    case EnvelopeType::tensor: return "tensor";
    case EnvelopeType::control: return "control";
    case EnvelopeType::numpy: return "numpy";
    case EnvelopeType::file: return "file";
    case EnvelopeType::end_of_input: return "end_of_input";
    case EnvelopeType::json: return "json";
    case EnvelopeType::binary: return "binary";
  }
  return "unknown";
}

std::optional<EnvelopeType> envelope_type_from_tag(std::uint8_t tag) {
  if (tag >= 1 && tag <= 10) return static_cast<EnvelopeType>(tag);
  return std::nullopt;
}

tl::expected<std::span<std::byte>, IpcError> encode_envelope_header(std::span<std::byte> out,
                                                                    EnvelopeType type,
                                                                    std::string_view session,
                                                                    std::uint64_t timestamp_us,
                                                                    std::size_t payload_len) {
  if (session.size() > kMaxSessionLen)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument,
                                   "envelope: session id of " + std::to_string(session.size()) +
                                       " bytes exceeds 65535"});
  if (payload_len > 0xFFFFFFFFULL)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument,
                                   "envelope: payload of " + std::to_string(payload_len) +
                                       " bytes exceeds the u32 length field"});
  std::size_t need = envelope_size(session.size(), payload_len);
  if (out.size() < need) return tl::unexpected(too_small("envelope", need, out.size()));
  Writer w(out);
  w.uint(static_cast<std::uint8_t>(type));
  w.uint(static_cast<std::uint16_t>(session.size()));
  w.bytes(session.data(), session.size());
  w.uint(timestamp_us);
  w.uint(static_cast<std::uint32_t>(payload_len));
  return w.rest().first(payload_len);
}

tl::expected<EnvelopeView, IpcError> decode_envelope(std::span<const std::byte> in) {
  Reader r(in);
  auto tag = r.uint<std::uint8_t>("type");
  if (!tag) return tl::unexpected(tag.error());
  auto type = envelope_type_from_tag(*tag);
  if (!type) return tl::unexpected(bad("type", 0, "unknown type tag " + std::to_string(*tag)));
  auto slen = r.uint<std::uint16_t>("session_len");
  if (!slen) return tl::unexpected(slen.error());
  std::size_t session_at = r.offset();
  auto session = r.bytes("session", *slen);
  if (!session) return tl::unexpected(session.error());
  auto sv = utf8_field(*session, "session", session_at);
  if (!sv) return tl::unexpected(sv.error());
  auto ts = r.uint<std::uint64_t>("timestamp_us");
  if (!ts) return tl::unexpected(ts.error());
  auto plen = r.uint<std::uint32_t>("payload_len");
  if (!plen) return tl::unexpected(plen.error());
  auto payload = r.bytes("payload", *plen);
  if (!payload) return tl::unexpected(payload.error());
  if (r.left() != 0)
    return tl::unexpected(bad("payload", r.offset(),
                              std::to_string(r.left()) + " trailing bytes after the payload"));
  return EnvelopeView{*type, *sv, *ts, *payload};
}

float AudioPayloadView::sample(std::size_t i) const {
  std::uint32_t u = 0;
  for (std::size_t k = 0; k < 4; ++k)
    u |= static_cast<std::uint32_t>(std::to_integer<std::uint8_t>(samples[4 * i + k])) << (8 * k);
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

tl::expected<AudioPayloadView, IpcError> decode_audio(std::span<const std::byte> payload) {
  Reader r(payload);
  auto rate = r.uint<std::uint32_t>("audio.sample_rate");
  if (!rate) return tl::unexpected(rate.error());
  auto ch = r.uint<std::uint16_t>("audio.channels");
  if (!ch) return tl::unexpected(ch.error());
  if (*ch == 0) return tl::unexpected(bad("audio.channels", 4, "channel count is 0"));
  auto mlen = r.uint<std::uint32_t>("audio.meta_len");
  if (!mlen) return tl::unexpected(mlen.error());
  std::size_t meta_at = r.offset();
  auto meta = r.bytes("audio.meta", *mlen);
  if (!meta) return tl::unexpected(meta.error());
  auto mv = utf8_field(*meta, "audio.meta", meta_at);
  if (!mv) return tl::unexpected(mv.error());
  // Trailing spaces are the alignment padding, not part of the JSON.
  std::string_view meta_text = *mv;
  while (!meta_text.empty() && meta_text.back() == ' ') meta_text.remove_suffix(1);
  std::size_t samples_at = r.offset();
  auto samples = r.rest();
  if (samples.size() % 4 != 0)
    return tl::unexpected(bad("audio.samples", samples_at,
                              std::to_string(samples.size()) + " bytes is not a whole number of f32"));
  if ((samples.size() / 4) % *ch != 0)
    return tl::unexpected(bad("audio.samples", samples_at,
                              std::to_string(samples.size() / 4) +
                                  " samples do not divide into " + std::to_string(*ch) +
                                  " channels"));
  return AudioPayloadView{*rate, *ch, meta_text, samples};
}

std::optional<std::size_t> dtype_size(std::string_view d) {
  if (d.size() >= 2 && (d[0] == '<' || d[0] == '|' || d[0] == '=')) d.remove_prefix(1);
  if (d == "float32" || d == "f4" || d == "int32" || d == "i4" || d == "uint32" || d == "u4")
    return 4;
  if (d == "float64" || d == "f8" || d == "int64" || d == "i8" || d == "uint64" || d == "u8")
    return 8;
  if (d == "float16" || d == "f2" || d == "int16" || d == "i2" || d == "uint16" || d == "u2" ||
      d == "bfloat16")
    return 2;
  if (d == "int8" || d == "i1" || d == "uint8" || d == "u1" || d == "bool" || d == "b1") return 1;
  return std::nullopt;
}

tl::expected<TensorPayloadView, IpcError> decode_tensor(std::span<const std::byte> payload) {
  Reader r(payload);
  auto dlen = r.uint<std::uint8_t>("tensor.dtype_len");
  if (!dlen) return tl::unexpected(dlen.error());
  if (*dlen == 0) return tl::unexpected(bad("tensor.dtype_len", 0, "dtype is empty"));
  auto dtype = r.bytes("tensor.dtype", *dlen);
  if (!dtype) return tl::unexpected(dtype.error());
  auto dv = utf8_field(*dtype, "tensor.dtype", 1);
  if (!dv) return tl::unexpected(dv.error());
  auto ndim = r.uint<std::uint8_t>("tensor.ndim");
  if (!ndim) return tl::unexpected(ndim.error());
  TensorPayloadView v{*dv, {}, {}};
  v.dims.reserve(*ndim);
  std::uint64_t elements = 1;
  bool overflow = false;
  for (unsigned i = 0; i < *ndim; ++i) {
    std::size_t at = r.offset();
    auto d = r.uint<std::uint64_t>("tensor.dims");
    if (!d) return tl::unexpected(d.error());
    auto dim = static_cast<std::int64_t>(*d);
    if (dim < 0)
      return tl::unexpected(bad("tensor.dims", at, "negative dimension " + std::to_string(dim)));
    if (dim != 0 && elements > UINT64_MAX / static_cast<std::uint64_t>(dim)) overflow = true;
    elements *= static_cast<std::uint64_t>(dim);
    v.dims.push_back(dim);
  }
  std::size_t data_at = r.offset();
  v.data = r.rest();
  if (auto isz = dtype_size(v.dtype)) {
    if (overflow || elements > UINT64_MAX / *isz || elements * *isz != v.data.size())
      return tl::unexpected(bad("tensor.data", data_at,
                                std::to_string(v.data.size()) + " bytes do not match the shape (" +
                                    (overflow ? std::string("overflow")
                                              : std::to_string(elements)) +
                                    " elements of " + std::to_string(*isz) + " bytes)"));
  }
  return v;
}

tl::expected<BinaryPayloadView, IpcError> decode_binary(std::span<const std::byte> payload) {
  Reader r(payload);
  auto mlen = r.uint<std::uint16_t>("binary.mime_len");
  if (!mlen) return tl::unexpected(mlen.error());
  auto mime = r.bytes("binary.mime", *mlen);
  if (!mime) return tl::unexpected(mime.error());
  auto mv = utf8_field(*mime, "binary.mime", 2);
  if (!mv) return tl::unexpected(mv.error());
  return BinaryPayloadView{*mv, r.rest()};
}

tl::expected<ControlPayloadView, IpcError> decode_control(std::span<const std::byte> payload) {
  auto text = utf8_field(payload, "control", 0);
  if (!text) return tl::unexpected(text.error());
  JsonScan js(*text, 0);
  if (!js.eat('{')) return tl::unexpected(js.error("not a JSON object"));
  ControlPayloadView v;
  bool have_kind = false;
  if (!js.eat('}')) {
    do {
      std::string key;
      if (auto r = js.string(key); !r) return tl::unexpected(r.error());
      if (!js.eat(':')) return tl::unexpected(js.error("invalid JSON: expected ':'"));
      if (key == "kind") {
        if (!js.peek('"')) return tl::unexpected(js.error("kind is not a string"));
        v.kind.clear();
        if (auto r = js.string(v.kind); !r) return tl::unexpected(r.error());
        have_kind = true;
      } else {
        const bool is_payload = key == "payload";
        if (is_payload && !js.peek('{') && !js.peek('n'))
          return tl::unexpected(js.error("payload is not a JSON object"));
        auto start = js.value();
        if (!start) return tl::unexpected(start.error());
        if (is_payload) {
          auto raw = text->substr(*start, js.pos() - *start);
          v.payload = raw == "null" ? std::string_view() : raw;
        }
      }
    } while (js.eat(','));
    if (!js.eat('}')) return tl::unexpected(js.error("invalid JSON: expected ',' or '}'"));
  }
  if (!js.at_end()) return tl::unexpected(js.error("trailing bytes after the JSON object"));
  if (!have_kind || v.kind.empty())
    return tl::unexpected(bad("control.kind", 0, "kind is empty"));
  return v;
}

tl::expected<std::string_view, IpcError> decode_text(std::span<const std::byte> payload) {
  return utf8_field(payload, "text", 0);
}

tl::expected<EnvelopeView, IpcError> decode_envelope_checked(std::span<const std::byte> in) {
  auto env = decode_envelope(in);
  if (!env) return env;
  // Payload offsets in errors are relative to the payload; say where it starts.
  auto in_payload = [&](IpcError e) {
    e.message += " (payload starts at envelope offset " +
                 std::to_string(envelope_size(env->session.size(), 0)) + ")";
    return tl::unexpected(std::move(e));
  };
  switch (env->type) {
    case EnvelopeType::audio:
      if (auto a = decode_audio(env->payload); !a) return in_payload(a.error());
      break;
    case EnvelopeType::tensor:
    case EnvelopeType::numpy:
      if (auto t = decode_tensor(env->payload); !t) return in_payload(t.error());
      break;
    case EnvelopeType::binary:
      if (auto b = decode_binary(env->payload); !b) return in_payload(b.error());
      break;
    case EnvelopeType::control:
      if (auto c = decode_control(env->payload); !c) return in_payload(c.error());
      break;
    case EnvelopeType::text:
    case EnvelopeType::json:
      if (auto t = decode_text(env->payload); !t) return in_payload(t.error());
      break;
    case EnvelopeType::end_of_input:
      if (!env->payload.empty())
        return in_payload(bad("end_of_input", 0, "payload must be empty"));
      break;
    case EnvelopeType::video:
    case EnvelopeType::file:
      break;
  }
  return env;
}

std::size_t AudioPayload::padded_meta_size() const {
  std::size_t m = meta.size();
  auto pad = [&] { return (4 - (payload_offset + 10 + m) % 4) % 4; };
  if (pad() != 0 && m == 0) m = 2;  // "{}": the padded field must still be JSON
  return m + pad();
}

std::size_t audio_envelope_size(std::string_view session, std::string_view meta,
                                std::size_t sample_count) {
  AudioPayload a;
  a.meta = meta;
  a.sample_count = sample_count;
  a.payload_offset = envelope_size(session.size(), 0);
  return envelope_size(session.size(), a.encoded_size());
}

tl::expected<std::span<std::byte>, IpcError> AudioPayload::encode_header_into(
    std::span<std::byte> out) const {
  if (meta.size() > 0xFFFFFFF0ULL)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument, "audio: meta too long"});
  if (channels == 0)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument, "audio: channel count is 0"});
  if (out.size() < encoded_size())
    return tl::unexpected(too_small("audio payload", encoded_size(), out.size()));
  const std::size_t field = padded_meta_size();
  Writer w(out);
  w.uint(sample_rate);
  w.uint(channels);
  w.uint(static_cast<std::uint32_t>(field));
  if (meta.empty() && field != 0) {
    w.bytes("{}", 2);
  } else {
    w.bytes(meta.data(), meta.size());
  }
  for (std::size_t i = meta.empty() && field != 0 ? 2 : meta.size(); i < field; ++i) w.bytes(" ", 1);
  return w.rest().first(4 * sample_count);
}

tl::expected<std::size_t, IpcError> AudioPayload::encode_into(
    std::span<std::byte> out, std::span<const float> samples) const {
  if (samples.size() != sample_count)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument,
                                   "audio: " + std::to_string(samples.size()) +
                                       " samples given, sample_count says " +
                                       std::to_string(sample_count)});
  auto region = encode_header_into(out);
  if (!region) return tl::unexpected(region.error());
  Writer w(*region);
  for (float f : samples) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    w.uint(u);
  }
  return encoded_size();
}

tl::expected<std::span<std::byte>, IpcError> TensorPayload::encode_header_into(
    std::span<std::byte> out) const {
  if (dtype.empty() || dtype.size() > 0xFF)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument, "tensor: dtype must be 1..255 bytes"});
  if (dims.size() > 0xFF)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument, "tensor: more than 255 dimensions"});
  if (out.size() < encoded_size())
    return tl::unexpected(too_small("tensor payload", encoded_size(), out.size()));
  Writer w(out);
  w.uint(static_cast<std::uint8_t>(dtype.size()));
  w.bytes(dtype.data(), dtype.size());
  w.uint(static_cast<std::uint8_t>(dims.size()));
  for (std::int64_t d : dims) w.uint(static_cast<std::uint64_t>(d));
  return w.rest().first(data_size);
}

tl::expected<std::size_t, IpcError> BinaryPayload::encode_into(std::span<std::byte> out) const {
  if (mime.size() > 0xFFFF)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument, "binary: mime type too long"});
  if (out.size() < encoded_size())
    return tl::unexpected(too_small("binary payload", encoded_size(), out.size()));
  Writer w(out);
  w.uint(static_cast<std::uint16_t>(mime.size()));
  w.bytes(mime.data(), mime.size());
  w.bytes(bytes.data(), bytes.size());
  return encoded_size();
}

std::size_t ControlPayload::encoded_size() const {
  return kControlKindKey.size() + json_quote(kind).size() + kControlPayloadKey.size() +
         (payload.empty() ? 2 : payload.size()) + 1;
}

tl::expected<std::size_t, IpcError> ControlPayload::encode_into(std::span<std::byte> out) const {
  if (kind.empty())
    return tl::unexpected(IpcError{IpcErrc::invalid_argument, "control: kind is empty"});
  const std::size_t need = encoded_size();
  if (out.size() < need) return tl::unexpected(too_small("control payload", need, out.size()));
  const std::string quoted = json_quote(kind);
  const std::string_view body = payload.empty() ? std::string_view("{}") : payload;
  Writer w(out);
  w.bytes(kControlKindKey.data(), kControlKindKey.size());
  w.bytes(quoted.data(), quoted.size());
  w.bytes(kControlPayloadKey.data(), kControlPayloadKey.size());
  w.bytes(body.data(), body.size());
  w.bytes("}", 1);
  return need;
}

}  // namespace rm::ipc
