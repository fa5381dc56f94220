#include "process/wire.hpp"

#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "ipc/envelope.hpp"

// Only the mapping between RuntimeData and ipc's envelope views/encoders lives here; the byte
// layout (framing, audio padding, control JSON, tensor heads) is ipc/'s alone.
namespace rm::process {
namespace {

using runtime::Bytes;
using runtime::DataType;
using runtime::RuntimeData;

tl::unexpected<WireError> fail(std::string msg) {
  return tl::unexpected(WireError{std::move(msg)});
}

tl::unexpected<WireError> from_ipc(const ipc::IpcError& e, std::size_t payload_at = 0) {
  std::string m = e.message.rfind("envelope", 0) == 0 ? e.message : "envelope: " + e.message;
  if (payload_at != 0) m += fmt::format(" (payload starts at offset {})", payload_at);
  return fail(std::move(m));
}

// What one RuntimeData becomes on the wire: the envelope type, the payload size, and a writer
// that fills exactly that many bytes. Serialised JSON is kept here so it is computed once.
struct Plan {
  ipc::EnvelopeType type = ipc::EnvelopeType::end_of_input;
  std::string json;  // text / json body, audio meta, control payload (compact, boost::json)
  std::size_t payload_size = 0;
  std::string error;  // non-empty: this value cannot be encoded
};

Plan plan(std::string_view session, const RuntimeData& d) {
  Plan p;
  switch (d.type) {
    case DataType::audio:
      if (const auto* a = d.audio()) {
        p.type = ipc::EnvelopeType::audio;
        if (!d.metadata.empty()) p.json = boost::json::serialize(d.metadata);
        ipc::AudioPayload ap{a->sample_rate, a->channels, p.json, a->samples.size() / 4,
                             ipc::envelope_size(session.size(), 0)};
        p.payload_size = ap.encoded_size();
        return p;
      }
      break;
    case DataType::video:
      if (const auto* v = d.video()) {
        p.type = ipc::EnvelopeType::video;
        p.payload_size = ipc::VideoPayload{v->format, v->width, v->height, v->frame_number}.encoded_size();
        if (v->pixels.size() != v->frame_bytes())
          p.error = fmt::format("envelope: cannot encode {}: {} bytes of pixels expected",
                                runtime::summarize(d), v->frame_bytes());
        return p;
      }
      break;
    case DataType::text:
      if (const auto* t = d.text()) {
        p.type = ipc::EnvelopeType::text;
        p.json = t->text;
        p.payload_size = p.json.size();
        return p;
      }
      break;
    case DataType::json:
      if (const auto* j = d.json()) {
        p.type = ipc::EnvelopeType::json;
        p.json = boost::json::serialize(j->value);
        p.payload_size = p.json.size();
        return p;
      }
      break;
    case DataType::binary:
      if (const auto* b = d.binary()) {
        p.type = ipc::EnvelopeType::binary;
        p.payload_size = ipc::BinaryPayload{b->mime_type, b->bytes.span()}.encoded_size();
        return p;
      }
      break;
    case DataType::tensor:
    case DataType::numpy:
      if (const auto* t = d.tensor()) {
        p.type = d.type == DataType::numpy ? ipc::EnvelopeType::numpy : ipc::EnvelopeType::tensor;
        p.payload_size = ipc::TensorPayload{t->dtype, t->shape, t->data.size()}.encoded_size();
        return p;
      }
      break;
    case DataType::control:
      if (const auto* c = d.control()) {
        p.type = ipc::EnvelopeType::control;
        if (!c->payload.empty()) p.json = boost::json::serialize(c->payload);
        p.payload_size = ipc::ControlPayload{c->kind, p.json}.encoded_size();
        return p;
      }
      break;
    case DataType::end_of_stream:
      p.type = ipc::EnvelopeType::end_of_input;
      return p;
    default:
      break;
  }
  p.error = fmt::format("envelope: cannot encode {} values", runtime::to_string(d.type));
  return p;
}

tl::expected<void, WireError> write_payload(std::span<std::byte> out, std::string_view session,
                                            const RuntimeData& d, const Plan& p) {
  auto copy = [](std::span<std::byte> to, std::span<const std::byte> from) {
    if (!from.empty()) std::memcpy(to.data(), from.data(), from.size());
  };
  tl::expected<void, ipc::IpcError> r;
  switch (p.type) {
    case ipc::EnvelopeType::audio: {
      const auto* a = d.audio();
      ipc::AudioPayload ap{a->sample_rate, a->channels, p.json, a->samples.size() / 4,
                           ipc::envelope_size(session.size(), 0)};
      auto region = ap.encode_header_into(out);
      if (!region) return from_ipc(region.error());
      copy(*region, a->samples.span().first(region->size()));
      return {};
    }
    case ipc::EnvelopeType::video: {
      const auto* v = d.video();
      auto region =
          ipc::VideoPayload{v->format, v->width, v->height, v->frame_number}.encode_header_into(out);
      if (!region) return from_ipc(region.error());
      copy(*region, v->pixels.span());
      return {};
    }
    case ipc::EnvelopeType::text:
    case ipc::EnvelopeType::json:
      copy(out, std::as_bytes(std::span(p.json.data(), p.json.size())));
      return {};
    case ipc::EnvelopeType::binary: {
      const auto* b = d.binary();
      if (auto n = ipc::BinaryPayload{b->mime_type, b->bytes.span()}.encode_into(out); !n)
        return from_ipc(n.error());
      return {};
    }
    case ipc::EnvelopeType::tensor:
    case ipc::EnvelopeType::numpy: {
      const auto* t = d.tensor();
      auto region = ipc::TensorPayload{t->dtype, t->shape, t->data.size()}.encode_header_into(out);
      if (!region) return from_ipc(region.error());
      copy(*region, t->data.span());
      return {};
    }
    case ipc::EnvelopeType::control:
      if (auto n = ipc::ControlPayload{d.control()->kind, p.json}.encode_into(out); !n)
        return from_ipc(n.error());
      return {};
    default:
      return {};
  }
}

}  // namespace

std::size_t encoded_size(std::string_view session, const RuntimeData& d) {
  return ipc::envelope_size(session.size(), plan(session, d).payload_size);
}

tl::expected<std::size_t, WireError> encode_into(std::span<std::byte> out, std::string_view session,
                                                 const RuntimeData& d) {
  if (session.size() > ipc::kMaxSessionLen) return fail("envelope: session id longer than 65535 bytes");
  auto p = plan(session, d);
  if (!p.error.empty()) return fail(p.error);
  const auto need = ipc::envelope_size(session.size(), p.payload_size);
  if (out.size() < need)
    return fail(fmt::format("envelope: buffer of {} bytes is smaller than the {} needed", out.size(), need));
  auto payload = ipc::encode_envelope_header(out, p.type, session, static_cast<std::uint64_t>(d.timestamp_us),
                                             p.payload_size);
  if (!payload) return from_ipc(payload.error());
  if (auto w = write_payload(*payload, session, d, p); !w) return tl::unexpected(w.error());
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
  auto env = ipc::decode_envelope(in);
  if (!env) return from_ipc(env.error());
  const std::size_t at = ipc::envelope_size(env->session.size(), 0);
  const auto ts = static_cast<std::int64_t>(env->timestamp_us);
  Envelope out;
  out.session = std::string(env->session);
  auto bytes_of = [&](std::span<const std::byte> s) {
    if (mode == DecodeMode::borrow && keep_alive) return Bytes::borrow(s.data(), s.size(), keep_alive);
    return Bytes::copy_of(s);
  };
  auto json_of = [&](std::string_view s,
                     std::string_view what) -> tl::expected<boost::json::value, WireError> {
    boost::system::error_code ec;
    auto v = boost::json::parse(s, ec);
    if (ec)
      return fail(fmt::format("envelope: {} at offset {} is not valid JSON: {}", what, at, ec.message()));
    return v;
  };
  auto object_of = [&](std::string_view s,
                       std::string_view what) -> tl::expected<boost::json::object, WireError> {
    if (s.empty()) return boost::json::object{};
    auto v = json_of(s, what);
    if (!v) return tl::unexpected(v.error());
    if (!v->is_object()) return fail(fmt::format("envelope: {} is not a JSON object", what));
    return std::move(v->as_object());
  };
  switch (env->type) {
    case ipc::EnvelopeType::audio: {
      auto a = ipc::decode_audio(env->payload);
      if (!a) return from_ipc(a.error(), at);
      auto meta = object_of(a->meta, "audio meta");
      if (!meta) return tl::unexpected(meta.error());
      // Samples are viewed as floats, so a borrowed view must be 4-byte aligned.
      bool aligned = reinterpret_cast<std::uintptr_t>(a->samples.data()) % alignof(float) == 0;
      Bytes b = (mode == DecodeMode::borrow && keep_alive && aligned)
                    ? Bytes::borrow(a->samples.data(), a->samples.size(), keep_alive)
                    : Bytes::copy_of(a->samples);
      out.data = RuntimeData::make_audio(std::move(b), a->sample_rate, a->channels, ts, std::move(*meta));
      return out;
    }
    case ipc::EnvelopeType::video: {
      auto v = ipc::decode_video(env->payload);
      if (!v) return from_ipc(v.error(), at);
      auto d =
          RuntimeData::make_video(bytes_of(v->pixels), v->width, v->height, v->format, v->frame_number, ts);
      if (!d) return fail("envelope: " + d.error());
      out.data = std::move(*d);
      return out;
    }
    case ipc::EnvelopeType::text: {
      auto t = ipc::decode_text(env->payload);
      if (!t) return from_ipc(t.error(), at);
      out.data = RuntimeData::make_text(std::string(*t), ts);
      return out;
    }
    case ipc::EnvelopeType::json: {
      auto t = ipc::decode_text(env->payload);
      if (!t) return from_ipc(t.error(), at);
      auto v = json_of(*t, "json payload");
      if (!v) return tl::unexpected(v.error());
      out.data = RuntimeData::make_json(std::move(*v), ts);
      return out;
    }
    case ipc::EnvelopeType::binary: {
      auto b = ipc::decode_binary(env->payload);
      if (!b) return from_ipc(b.error(), at);
      out.data = RuntimeData::make_binary(bytes_of(b->bytes), std::string(b->mime), ts);
      return out;
    }
    case ipc::EnvelopeType::tensor:
    case ipc::EnvelopeType::numpy: {
      auto t = ipc::decode_tensor(env->payload);
      if (!t) return from_ipc(t.error(), at);
      out.data = RuntimeData::make_tensor(
          std::move(t->dims), std::string(t->dtype), bytes_of(t->data), ts,
          env->type == ipc::EnvelopeType::numpy ? DataType::numpy : DataType::tensor);
      return out;
    }
    case ipc::EnvelopeType::control: {
      auto c = ipc::decode_control(env->payload);
      if (!c) return from_ipc(c.error(), at);
      auto payload = object_of(c->payload, "control payload");
      if (!payload) return tl::unexpected(payload.error());
      out.data = RuntimeData::make_control(std::move(c->kind), std::move(*payload), ts);
      return out;
    }
    case ipc::EnvelopeType::end_of_input:
      if (!env->payload.empty()) return fail("envelope: end_of_stream with a non-empty payload");
      out.data = RuntimeData::make_end_of_stream(ts);
      return out;
    case ipc::EnvelopeType::file:
      break;
  }
  return fail(fmt::format("envelope: unsupported type tag {} ({}) at offset 0",
                          static_cast<unsigned>(env->type), ipc::to_string(env->type)));
}

}  // namespace rm::process
