#include "ipc/envelope.hpp"

#include <cstring>
#include <string>

#include "json_scan.hpp"
#include "utf8.hpp"
#include "wire.hpp"

namespace rm::ipc {

using detail::bad;
using detail::json_quote;
using detail::JsonScan;
using detail::Reader;
using detail::too_small;
using detail::utf8_field;
using detail::Writer;

namespace {

constexpr std::string_view kControlKindKey = R"({"kind":)";
constexpr std::string_view kControlPayloadKey = R"(,"payload":)";

}  // namespace

std::string_view to_string(EnvelopeType t) {
  switch (t) {
    case EnvelopeType::audio:
      return "audio";
    case EnvelopeType::video:
      return "video";
    case EnvelopeType::text:
      return "text";
    case EnvelopeType::tensor:
      return "tensor";
    case EnvelopeType::control:
      return "control";
    case EnvelopeType::numpy:
      return "numpy";
    case EnvelopeType::file:
      return "file";
    case EnvelopeType::end_of_input:
      return "end_of_input";
    case EnvelopeType::json:
      return "json";
    case EnvelopeType::binary:
      return "binary";
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
    return tl::unexpected(
        IpcError{IpcErrc::invalid_argument,
                 "envelope: session id of " + std::to_string(session.size()) + " bytes exceeds 65535"});
  if (payload_len > 0xFFFFFFFFULL)
    return tl::unexpected(IpcError{
        IpcErrc::invalid_argument,
        "envelope: payload of " + std::to_string(payload_len) + " bytes exceeds the u32 length field"});
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
    return tl::unexpected(
        bad("payload", r.offset(), std::to_string(r.left()) + " trailing bytes after the payload"));
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
                              std::to_string(samples.size() / 4) + " samples do not divide into " +
                                  std::to_string(*ch) + " channels"));
  return AudioPayloadView{*rate, *ch, meta_text, samples};
}

std::optional<std::size_t> dtype_size(std::string_view d) {
  if (d.size() >= 2 && (d[0] == '<' || d[0] == '|' || d[0] == '=')) d.remove_prefix(1);
  if (d == "float32" || d == "f4" || d == "int32" || d == "i4" || d == "uint32" || d == "u4") return 4;
  if (d == "float64" || d == "f8" || d == "int64" || d == "i8" || d == "uint64" || d == "u8") return 8;
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
    if (dim < 0) return tl::unexpected(bad("tensor.dims", at, "negative dimension " + std::to_string(dim)));
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
                                    (overflow ? std::string("overflow") : std::to_string(elements)) +
                                    " elements of " + std::to_string(*isz) + " bytes)"));
  }
  return v;
}

std::string_view to_string(PixelFormat f) {
  switch (f) {
    case PixelFormat::rgb24:
      return "rgb24";
    case PixelFormat::rgba:
      return "rgba";
    case PixelFormat::yuv420p:
      return "yuv420p";
    case PixelFormat::gray:
      return "gray";
  }
  return "unknown";
}

std::optional<PixelFormat> pixel_format_from_tag(std::uint8_t tag) {
  if (tag >= 1 && tag <= 4) return static_cast<PixelFormat>(tag);
  return std::nullopt;
}

std::optional<PixelFormat> pixel_format_from_name(std::string_view name) {
  for (std::uint8_t t = 1; t <= 4; ++t)
    if (to_string(static_cast<PixelFormat>(t)) == name) return static_cast<PixelFormat>(t);
  return std::nullopt;
}

std::uint64_t video_frame_bytes(PixelFormat f, std::uint32_t width, std::uint32_t height) {
  const std::uint64_t px = std::uint64_t{width} * height;
  switch (f) {
    case PixelFormat::rgb24:
      return 3 * px;
    case PixelFormat::rgba:
      return 4 * px;
    case PixelFormat::gray:
      return px;
    case PixelFormat::yuv420p:
      return px + 2 * ((std::uint64_t{width} + 1) / 2) * ((std::uint64_t{height} + 1) / 2);
  }
  return 0;
}

tl::expected<VideoPayloadView, IpcError> decode_video(std::span<const std::byte> payload) {
  Reader r(payload);
  auto version = r.uint<std::uint8_t>("video.version");
  if (!version) return tl::unexpected(version.error());
  if (*version != kVideoPayloadVersion)
    return tl::unexpected(bad("video.version", 0,
                              "unknown video payload version " + std::to_string(*version) +
                                  " (this build reads version " + std::to_string(kVideoPayloadVersion) +
                                  ")"));
  auto tag = r.uint<std::uint8_t>("video.pixel_format");
  if (!tag) return tl::unexpected(tag.error());
  auto format = pixel_format_from_tag(*tag);
  if (!format)
    return tl::unexpected(
        bad("video.pixel_format", 1,
            "unknown pixel format " + std::to_string(*tag) + " (1 rgb24, 2 rgba, 3 yuv420p, 4 gray)"));
  auto w = r.uint<std::uint32_t>("video.width");
  if (!w) return tl::unexpected(w.error());
  auto h = r.uint<std::uint32_t>("video.height");
  if (!h) return tl::unexpected(h.error());
  if (*w == 0 || *h == 0)
    return tl::unexpected(bad(*w == 0 ? "video.width" : "video.height", *w == 0 ? 2 : 6, "dimension is 0"));
  auto frame = r.uint<std::uint64_t>("video.frame_number");
  if (!frame) return tl::unexpected(frame.error());
  std::size_t pixels_at = r.offset();
  auto pixels = r.rest();
  const auto want = video_frame_bytes(*format, *w, *h);
  if (pixels.size() != want)
    return tl::unexpected(bad("video.pixels", pixels_at,
                              std::to_string(pixels.size()) + " bytes, but a " + std::to_string(*w) + "x" +
                                  std::to_string(*h) + " " + std::string(to_string(*format)) + " frame is " +
                                  std::to_string(want) + " bytes"));
  return VideoPayloadView{*format, *w, *h, *frame, pixels};
}

tl::expected<std::span<std::byte>, IpcError> VideoPayload::encode_header_into(
    std::span<std::byte> out) const {
  if (!pixel_format_from_tag(static_cast<std::uint8_t>(format)))
    return tl::unexpected(IpcError{IpcErrc::invalid_argument, "video: unknown pixel format"});
  if (width == 0 || height == 0)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument, "video: width and height must be > 0"});
  if (out.size() < encoded_size())
    return tl::unexpected(too_small("video payload", encoded_size(), out.size()));
  Writer w(out);
  w.uint(kVideoPayloadVersion);
  w.uint(static_cast<std::uint8_t>(format));
  w.uint(width);
  w.uint(height);
  w.uint(frame_number);
  return w.rest().first(pixel_bytes());
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
  if (!have_kind || v.kind.empty()) return tl::unexpected(bad("control.kind", 0, "kind is empty"));
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
    e.message +=
        " (payload starts at envelope offset " + std::to_string(envelope_size(env->session.size(), 0)) + ")";
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
      if (!env->payload.empty()) return in_payload(bad("end_of_input", 0, "payload must be empty"));
      break;
    case EnvelopeType::video:
      if (auto v = decode_video(env->payload); !v) return in_payload(v.error());
      break;
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

std::size_t audio_envelope_size(std::string_view session, std::string_view meta, std::size_t sample_count) {
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
  if (channels == 0) return tl::unexpected(IpcError{IpcErrc::invalid_argument, "audio: channel count is 0"});
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

tl::expected<std::size_t, IpcError> AudioPayload::encode_into(std::span<std::byte> out,
                                                              std::span<const float> samples) const {
  if (samples.size() != sample_count)
    return tl::unexpected(IpcError{IpcErrc::invalid_argument, "audio: " + std::to_string(samples.size()) +
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
  if (kind.empty()) return tl::unexpected(IpcError{IpcErrc::invalid_argument, "control: kind is empty"});
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