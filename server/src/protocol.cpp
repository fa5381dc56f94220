#include "server/protocol.hpp"

#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "core/json.hpp"
#include "process/wire.hpp"

namespace rm::server {

namespace json = boost::json;
using runtime::DataPtr;
using runtime::RuntimeData;

std::string close_reason(std::string_view text) {
  constexpr std::size_t kMax = 123;
  if (text.size() <= kMax) return std::string(text);
  std::size_t cut = kMax - 3;
  // Back up to the start of a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

namespace {

std::string to_text(const json::object& o) {
  return core::to_json(o);
}

json::array to_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

tl::expected<std::string, std::string> string_member(const json::object& o, std::string_view key,
                                                     bool required) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) {
    if (required) return tl::unexpected(fmt::format("control message lacks \"{}\"", key));
    return std::string();
  }
  if (!v->is_string())
    return tl::unexpected(fmt::format("control message field \"{}\" must be a string", key));
  return std::string(v->get_string());
}

}  // namespace

tl::expected<ClientMessage, std::string> parse_client_message(std::string_view text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return tl::unexpected(fmt::format("control frame is not JSON: {}", ec.message()));
  if (!v.is_object()) return tl::unexpected(std::string("control frame must be a JSON object"));
  const auto& o = v.get_object();
  auto type = string_member(o, "type", true);
  if (!type) return tl::unexpected(type.error());
  ClientMessage m;
  if (*type == "start") {
    if (const auto* ver = o.if_contains("version"); ver != nullptr) {
      if (!ver->is_int64() || ver->get_int64() != kProtocolVersion) {
        return tl::unexpected(fmt::format("protocol version {} is not supported (this server speaks {})",
                                          core::to_json(*ver), kProtocolVersion));
      }
    }
    auto p = string_member(o, "pipeline", true);
    if (!p) return tl::unexpected(p.error());
    auto s = string_member(o, "session", false);
    if (!s) return tl::unexpected(s.error());
    m.kind = ClientMessage::Kind::start;
    m.start = {std::move(*p), std::move(*s), {}};
    if (const auto* params = o.if_contains("params"); params != nullptr && !params->is_null()) {
      if (!params->is_object())
        return tl::unexpected(
            std::string("control message field \"params\" must be an object {\"node.param\": value}"));
      m.start.params = params->get_object();
    }
    return m;
  }
  if (*type == "end") {
    auto in = string_member(o, "input", false);
    if (!in) return tl::unexpected(in.error());
    m.kind = ClientMessage::Kind::end;
    m.end.input = std::move(*in);
    return m;
  }
  return tl::unexpected(fmt::format("unknown control message type \"{}\" (expected start or end)", *type));
}

std::string start_message(std::string_view pipeline, std::string_view session, const json::object& params) {
  json::object o{{"type", "start"}, {"version", kProtocolVersion}, {"pipeline", pipeline}};
  if (!session.empty()) o["session"] = session;
  if (!params.empty()) o["params"] = params;
  return to_text(o);
}

std::string end_message(std::string_view input) {
  json::object o{{"type", "end"}};
  if (!input.empty()) o["input"] = input;
  return to_text(o);
}

std::string progress_message(std::string_view node, std::size_t ready, std::size_t total,
                             const std::vector<std::string>& waiting) {
  std::string msg = waiting.empty() ? std::string("every node is up")
                                    : fmt::format("{} of {} nodes up; waiting for {}", ready, total,
                                                  fmt::join(waiting, ", "));
  return to_text(json::object{{"type", "progress"},
                              {"node", node},
                              {"ready", ready},
                              {"total", total},
                              {"waiting", to_array(waiting)},
                              {"message", msg}});
}

std::string ready_message(std::string_view session, std::string_view pipeline,
                          const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                          const json::object& params) {
  return to_text(json::object{{"type", "ready"},
                              {"session", session},
                              {"pipeline", pipeline},
                              {"inputs", to_array(inputs)},
                              {"outputs", to_array(outputs)},
                              {"params", params}});
}

std::string_view to_string(runtime::NodeErrorCode code) {
  using C = runtime::NodeErrorCode;
  switch (code) {
    case C::invalid_params:
      return "invalid_params";
    case C::invalid_input:
      return "invalid_input";
    case C::init_failed:
      return "init_failed";
    case C::process_failed:
      return "process_failed";
    case C::remote_failed:
      return "remote_failed";
    case C::timeout:
      return "timeout";
    case C::cancelled:
      return "cancelled";
  }
  return "process_failed";
}

std::string error_message(std::string_view node, runtime::NodeErrorCode code, std::string_view message,
                          std::string_view param) {
  json::object o{{"type", "error"}, {"node", node}, {"code", to_string(code)}, {"message", message}};
  if (!param.empty()) o["param"] = param;
  return to_text(o);
}

std::string done_message(std::uint64_t frames_in, std::uint64_t frames_out) {
  return to_text(json::object{{"type", "done"}, {"frames_in", frames_in}, {"frames_out", frames_out}});
}

namespace {

constexpr std::string_view kPcmMime = "audio/pcm";

// "audio/pcm;format=s16le;rate=16000;channels=1" -> rate, channels.
tl::expected<std::pair<std::uint32_t, std::uint16_t>, std::string> parse_pcm_mime(std::string_view mime) {
  std::uint32_t rate = 0;
  std::uint32_t channels = 0;
  bool s16 = false;
  std::string_view rest = mime.substr(kPcmMime.size());
  while (!rest.empty()) {
    if (rest.front() != ';') return tl::unexpected(fmt::format("MIME type '{}' is malformed", mime));
    rest.remove_prefix(1);
    auto end = rest.find(';');
    auto part = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      return tl::unexpected(fmt::format("MIME type '{}': '{}' has no value", mime, part));
    auto key = part.substr(0, eq);
    auto val = part.substr(eq + 1);
    auto number = [&](std::uint32_t& out) {
      auto r = std::from_chars(val.data(), val.data() + val.size(), out);
      return r.ec == std::errc{} && r.ptr == val.data() + val.size();
    };
    if (key == "format") {
      s16 = val == "s16le";
    } else if (key == "rate") {
      if (!number(rate)) rate = 0;
    } else if (key == "channels") {
      if (!number(channels)) channels = 0;
    }
  }
  if (!s16) return tl::unexpected(fmt::format("MIME type '{}': only format=s16le PCM is accepted", mime));
  if (rate == 0 || rate > 768000)
    return tl::unexpected(fmt::format("MIME type '{}' needs rate=1..768000", mime));
  if (channels == 0 || channels > 64)
    return tl::unexpected(fmt::format("MIME type '{}' needs channels=1..64", mime));
  return std::pair{rate, static_cast<std::uint16_t>(channels)};
}

}  // namespace

tl::expected<DataFrame, std::string> decode_data_frame(std::span<const std::byte> frame) {
  auto env = process::decode(frame, process::DecodeMode::copy);
  if (!env) return tl::unexpected(env.error().message);
  DataFrame out{std::move(env->session), std::move(env->data)};
  const auto* b = out.data->binary();
  if (b != nullptr && b->mime_type.starts_with(kPcmMime)) {
    auto fmt = parse_pcm_mime(b->mime_type);
    if (!fmt) return tl::unexpected(fmt.error());
    if (b->bytes.size() % (2u * fmt->second) != 0) {
      return tl::unexpected(fmt::format("s16 PCM of {} bytes is not a whole number of {}-channel frames",
                                        b->bytes.size(), fmt->second));
    }
    std::vector<float> samples(b->bytes.size() / 2);
    const auto* p = reinterpret_cast<const unsigned char*>(b->bytes.data());
    for (std::size_t i = 0; i < samples.size(); ++i) {
      auto v = static_cast<std::int16_t>(static_cast<std::uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
      samples[i] = static_cast<float>(v) / 32768.0f;
    }
    out.data = RuntimeData::make_audio(std::move(samples), fmt->first, fmt->second, out.data->timestamp_us,
                                       out.data->metadata);
  }
  return out;
}

std::vector<std::byte> encode_data_frame(std::string_view stream, const RuntimeData& data) {
  return process::encode(stream, data);
}

std::string encode_data_frame_bytes(std::string_view stream, const RuntimeData& data) {
  std::string out(process::encoded_size(stream, data), '\0');
  auto n = process::encode_into(std::as_writable_bytes(std::span(out.data(), out.size())), stream, data);
  out.resize(n ? *n : 0);
  return out;
}

DataPtr make_s16_audio(std::span<const std::int16_t> samples, std::uint32_t sample_rate,
                       std::uint16_t channels, std::int64_t timestamp_us) {
  std::vector<std::byte> bytes(samples.size() * 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    auto u = static_cast<std::uint16_t>(samples[i]);
    bytes[2 * i] = static_cast<std::byte>(u & 0xFF);
    bytes[2 * i + 1] = static_cast<std::byte>(u >> 8);
  }
  return RuntimeData::make_binary(
      runtime::Bytes(std::move(bytes)),
      fmt::format("{};format=s16le;rate={};channels={}", kPcmMime, sample_rate, channels), timestamp_us);
}

}  // namespace rm::server
