#include "process/wire.hpp"

#include <cstring>
#include <memory>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace rm::process {
namespace {

using runtime::Bytes;
using runtime::DataType;
using runtime::RuntimeData;

constexpr std::size_t kHeaderFixed = 1 + 2 + 8 + 4;
constexpr std::size_t kAudioFixed = 4 + 2 + 4;

std::size_t header_size(std::string_view session) { return kHeaderFixed + session.size(); }

// Meta JSON plus the space padding that aligns the samples (see wire.hpp).
std::string audio_meta(const RuntimeData& d, std::size_t prefix) {
  std::string meta = d.metadata.empty() ? std::string() : boost::json::serialize(d.metadata);
  auto pad = [&] { return (4 - (prefix + kAudioFixed + meta.size()) % 4) % 4; };
  if (pad() != 0 && meta.empty()) meta = "{}";
  meta.append(pad(), ' ');
  return meta;
}

std::string binary_mime(const RuntimeData& d) { return d.binary() ? d.binary()->mime_type : ""; }

std::string tensor_head(const runtime::Tensor& t) {
  std::string h;
  h.push_back(static_cast<char>(t.dtype.size()));
  h += t.dtype;
  h.push_back(static_cast<char>(t.shape.size()));
  for (auto dim : t.shape) {
    char b[8];
    auto v = static_cast<std::uint64_t>(dim);
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    h.append(b, 8);
  }
  return h;
}

std::string control_json(const runtime::Control& c) {
  boost::json::object o;
  o["kind"] = c.kind;
  o["payload"] = c.payload;
  return boost::json::serialize(o);
}

// Non-audio payload as (small head string, bulk bytes view).
struct Parts {
  std::string head;
  std::span<const std::byte> bulk;
};

Parts payload_parts(const RuntimeData& d) {
  Parts p;
  switch (d.type) {
    case DataType::text:
      if (const auto* t = d.text()) p.head = t->text;
      break;
    case DataType::json:
      if (const auto* j = d.json()) p.head = boost::json::serialize(j->value);
      break;
    case DataType::binary:
      if (const auto* b = d.binary()) {
        auto m = binary_mime(d);
        p.head.push_back(static_cast<char>(m.size() & 0xff));
        p.head.push_back(static_cast<char>((m.size() >> 8) & 0xff));
        p.head += m;
        p.bulk = b->bytes.span();
      }
      break;
    case DataType::tensor:
    case DataType::numpy:
      if (const auto* t = d.tensor()) {
        p.head = tensor_head(*t);
        p.bulk = t->data.span();
      }
      break;
    case DataType::control:
      if (const auto* c = d.control()) p.head = control_json(*c);
      break;
    default:
      break;
  }
  return p;
}

template <typename T>
void put(std::byte* at, T v) {
  std::memcpy(at, &v, sizeof(T));  // x86-64 and aarch64 are little endian
}
template <typename T>
T get(const std::byte* at) {
  T v;
  std::memcpy(&v, at, sizeof(T));
  return v;
}

std::size_t write_header(std::byte* out, std::string_view session, DataType t, std::int64_t ts,
                         std::uint32_t payload_len) {
  put<std::uint8_t>(out, static_cast<std::uint8_t>(t));
  put<std::uint16_t>(out + 1, static_cast<std::uint16_t>(session.size()));
  std::memcpy(out + 3, session.data(), session.size());
  put<std::int64_t>(out + 3 + session.size(), ts);
  put<std::uint32_t>(out + 11 + session.size(), payload_len);
  return header_size(session);
}

tl::unexpected<WireError> fail(std::string msg) { return tl::unexpected(WireError{std::move(msg)}); }

}  // namespace

std::size_t encoded_size(std::string_view session, const RuntimeData& d) {
  if (const auto* a = d.audio()) {
    return header_size(session) + kAudioFixed + audio_meta(d, header_size(session)).size() +
           a->samples.size();
  }
  auto p = payload_parts(d);
  return header_size(session) + p.head.size() + p.bulk.size();
}

tl::expected<std::size_t, WireError> encode_into(std::span<std::byte> out, std::string_view session,
                                                 const RuntimeData& d) {
  if (session.size() > 0xffff) return fail("envelope: session id longer than 65535 bytes");
  auto need = encoded_size(session, d);
  if (out.size() < need)
    return fail(fmt::format("envelope: buffer of {} bytes is smaller than the {} needed", out.size(),
                            need));
  if (need - header_size(session) > 0xffffffffULL)
    return fail(fmt::format("envelope: payload of {} bytes exceeds 4 GiB", need));
  auto payload_len = static_cast<std::uint32_t>(need - header_size(session));
  std::byte* o = out.data();
  if (const auto* a = d.audio()) {
    auto meta = audio_meta(d, header_size(session));
    auto off = write_header(o, session, DataType::audio, d.timestamp_us, payload_len);
    put<std::uint32_t>(o + off, a->sample_rate);
    put<std::uint16_t>(o + off + 4, a->channels);
    put<std::uint32_t>(o + off + 6, static_cast<std::uint32_t>(meta.size()));
    off += kAudioFixed;
    std::memcpy(o + off, meta.data(), meta.size());
    off += meta.size();
    if (!a->samples.empty()) std::memcpy(o + off, a->samples.data(), a->samples.size());
    return need;
  }
  switch (d.type) {
    case DataType::text: case DataType::json: case DataType::binary: case DataType::tensor:
    case DataType::numpy: case DataType::control: case DataType::end_of_stream:
      break;
    default:
      return fail(fmt::format("envelope: cannot encode {} values", runtime::to_string(d.type)));
  }
  auto p = payload_parts(d);
  auto off = write_header(o, session, d.type, d.timestamp_us, payload_len);
  std::memcpy(o + off, p.head.data(), p.head.size());
  off += p.head.size();
  if (!p.bulk.empty()) std::memcpy(o + off, p.bulk.data(), p.bulk.size());
  return need;
}

std::vector<std::byte> encode(std::string_view session, const RuntimeData& d) {
  std::vector<std::byte> out(encoded_size(session, d));
  auto n = encode_into(out, session, d);
  if (!n) return {};
  out.resize(*n);
  return out;
}

tl::expected<Envelope, WireError> decode(std::span<const std::byte> in, DecodeMode mode,
                                         std::function<void()> keep_alive) {
  auto fits = [&](std::size_t at, std::size_t n) { return at <= in.size() && n <= in.size() - at; };
  auto truncated = [&](std::size_t off, std::size_t n, std::string_view what) {
    return fail(fmt::format("envelope truncated: {} needs {} bytes at offset {}, {} left", what, n,
                            off, off <= in.size() ? in.size() - off : 0));
  };
  if (!fits(0, 3)) return truncated(0, 3, "type and session_len");
  auto tag = get<std::uint8_t>(in.data());
  auto slen = get<std::uint16_t>(in.data() + 1);
  if (tag < 1 || tag > 10 || tag == 2 || tag == 7)
    return fail(fmt::format("envelope: unsupported type tag {} at offset 0", tag));
  if (!fits(3, slen)) return truncated(3, slen, "session id");
  Envelope env;
  env.session.assign(reinterpret_cast<const char*>(in.data() + 3), slen);
  std::size_t off = 3 + slen;
  if (!fits(off, 12)) return truncated(off, 12, "timestamp_us and payload_len");
  auto ts = get<std::int64_t>(in.data() + off);
  auto plen = get<std::uint32_t>(in.data() + off + 8);
  off += 12;
  if (!fits(off, plen)) return truncated(off, plen, "payload");
  if (off + plen != in.size())
    return fail(fmt::format("envelope: {} trailing bytes after the payload at offset {}",
                            in.size() - off - plen, off + plen));
  auto p = in.subspan(off, plen);
  auto type = static_cast<DataType>(tag);
  auto bytes_of = [&](std::span<const std::byte> s) {
    if (mode == DecodeMode::borrow && keep_alive) return Bytes::borrow(s.data(), s.size(), keep_alive);
    return Bytes::copy_of(s);
  };
  auto json_of = [&](std::span<const std::byte> s, std::string_view what)
      -> tl::expected<boost::json::value, WireError> {
    boost::system::error_code ec;
    auto v = boost::json::parse(
        std::string_view(reinterpret_cast<const char*>(s.data()), s.size()), ec);
    if (ec) return fail(fmt::format("envelope: {} at offset {} is not valid JSON: {}", what, off,
                                    ec.message()));
    return v;
  };
  switch (type) {
    case DataType::audio: {
      if (p.size() < kAudioFixed) return truncated(off, kAudioFixed, "audio header");
      auto rate = get<std::uint32_t>(p.data());
      auto ch = get<std::uint16_t>(p.data() + 4);
      auto mlen = get<std::uint32_t>(p.data() + 6);
      if (mlen > p.size() - kAudioFixed) return truncated(off + kAudioFixed, mlen, "audio meta");
      auto meta_raw = p.subspan(kAudioFixed, mlen);
      auto samples = p.subspan(kAudioFixed + mlen);
      if (samples.size() % 4 != 0)
        return fail(fmt::format("envelope: audio samples are {} bytes, not a multiple of 4",
                                samples.size()));
      if (ch == 0) return fail(fmt::format("envelope: audio channels is 0 at offset {}", off + 4));
      boost::json::object meta;
      std::string_view ms(reinterpret_cast<const char*>(meta_raw.data()), meta_raw.size());
      if (ms.find_first_not_of(' ') != std::string_view::npos) {
        auto v = json_of(meta_raw, "audio meta");
        if (!v) return tl::unexpected(v.error());
        if (!v->is_object()) return fail("envelope: audio meta is not a JSON object");
        meta = std::move(v->as_object());
      }
      // Samples are viewed as floats, so a borrowed view must be 4-byte aligned.
      bool aligned = reinterpret_cast<std::uintptr_t>(samples.data()) % alignof(float) == 0;
      Bytes b = (mode == DecodeMode::borrow && keep_alive && aligned)
                    ? Bytes::borrow(samples.data(), samples.size(), keep_alive)
                    : Bytes::copy_of(samples);
      env.data = RuntimeData::make_audio(std::move(b), rate, ch, ts, std::move(meta));
      return env;
    }
    case DataType::text:
      env.data = RuntimeData::make_text(
          std::string(reinterpret_cast<const char*>(p.data()), p.size()), ts);
      return env;
    case DataType::json: {
      auto v = json_of(p, "json payload");
      if (!v) return tl::unexpected(v.error());
      env.data = RuntimeData::make_json(std::move(*v), ts);
      return env;
    }
    case DataType::binary: {
      if (p.size() < 2) return truncated(off, 2, "binary mime_len");
      auto ml = get<std::uint16_t>(p.data());
      if (ml > p.size() - 2) return truncated(off + 2, ml, "binary mime");
      std::string mime(reinterpret_cast<const char*>(p.data() + 2), ml);
      env.data = RuntimeData::make_binary(bytes_of(p.subspan(2 + ml)), std::move(mime), ts);
      return env;
    }
    case DataType::tensor:
    case DataType::numpy: {
      if (p.size() < 1) return truncated(off, 1, "tensor dtype_len");
      std::size_t dl = get<std::uint8_t>(p.data());
      if (dl + 1 > p.size() - 1) return truncated(off + 1, dl + 1, "tensor dtype and ndim");
      std::string dtype(reinterpret_cast<const char*>(p.data() + 1), dl);
      std::size_t nd = get<std::uint8_t>(p.data() + 1 + dl);
      std::size_t o = 2 + dl;
      if (8 * nd > p.size() - o) return truncated(off + o, 8 * nd, "tensor shape");
      std::vector<std::int64_t> shape(nd);
      for (std::size_t i = 0; i < nd; ++i) shape[i] = get<std::int64_t>(p.data() + o + 8 * i);
      env.data = RuntimeData::make_tensor(std::move(shape), std::move(dtype),
                                          bytes_of(p.subspan(o + 8 * nd)), ts, type);
      return env;
    }
    case DataType::control: {
      boost::json::object c;
      if (!p.empty()) {
        auto v = json_of(p, "control payload");
        if (!v) return tl::unexpected(v.error());
        if (!v->is_object()) return fail("envelope: control payload is not a JSON object");
        c = std::move(v->as_object());
      }
      std::string kind;
      if (auto* k = c.if_contains("kind"); k && k->is_string()) kind = std::string(k->as_string());
      boost::json::object payload;
      if (auto* pl = c.if_contains("payload"); pl && pl->is_object()) payload = pl->as_object();
      env.data = RuntimeData::make_control(std::move(kind), std::move(payload), ts);
      return env;
    }
    case DataType::end_of_stream:
      if (!p.empty()) return fail("envelope: end_of_stream with a non-empty payload");
      env.data = RuntimeData::make_end_of_stream(ts);
      return env;
    default:
      break;
  }
  return fail(fmt::format("envelope: unsupported type tag {}", tag));
}

}  // namespace rm::process
