#pragma once
// Wire protocol v1 of the streaming server (docs/streaming.md), shared by the server and every
// C++ client: control messages are JSON text frames, data frames are exactly one IPC envelope
// (ipc/envelope.hpp through process/wire.hpp; no second codec). The envelope's `session` field
// names the stream: the pipeline input on the way in, the output node id on the way out.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <tl/expected.hpp>

#include "runtime/node_error.hpp"
#include "runtime/runtime_data.hpp"

namespace rm::server {

inline constexpr int kProtocolVersion = 1;
inline constexpr std::string_view kStreamPath = "/v1/stream";

// WebSocket close codes used by the server (docs/streaming.md, "Close codes").
enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  too_big = 1009,
  node_failed = 1011,
  malformed = 4400,
  unknown_pipeline = 4404,
  idle = 4408,
  invalid_params = 4422,
};

// A close reason fits 123 bytes; longer text is cut at a UTF-8 boundary with "...".
std::string close_reason(std::string_view text);

// ---- client -> server control messages ----
struct StartMessage {
  std::string pipeline;
  std::string session;         // requested id, may be empty
  boost::json::object params;  // per-session params {"node.param": value}, may be empty
};
struct EndMessage {
  std::string input;  // empty = every input
};
struct ClientMessage {
  enum class Kind { start, end } kind = Kind::start;
  StartMessage start;
  EndMessage end;
};
// Errors are one sentence naming the problem ("control frame is not JSON: ...").
tl::expected<ClientMessage, std::string> parse_client_message(std::string_view text);
std::string start_message(std::string_view pipeline, std::string_view session = {},
                          const boost::json::object& params = {});
std::string end_message(std::string_view input = {});

// ---- server -> client control messages ----
std::string progress_message(std::string_view node, std::size_t ready, std::size_t total,
                             const std::vector<std::string>& waiting);
std::string ready_message(std::string_view session, std::string_view pipeline,
                          const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                          const boost::json::object& params = {});
// `param`: the session param refused (invalid_params), else empty and left out.
std::string error_message(std::string_view node, runtime::NodeErrorCode code, std::string_view message,
                          std::string_view param = {});
std::string done_message(std::uint64_t frames_in, std::uint64_t frames_out);
std::string_view to_string(runtime::NodeErrorCode code);

// ---- data frames ----
struct DataFrame {
  std::string stream;  // input name (to the server) or output node id (to the client)
  runtime::DataPtr data;
};
// Decodes one binary frame (copying bulk payloads out of the frame buffer). A binary envelope
// with MIME type audio/pcm;format=s16le;rate=R;channels=C becomes f32 audio.
tl::expected<DataFrame, std::string> decode_data_frame(std::span<const std::byte> frame);
std::vector<std::byte> encode_data_frame(std::string_view stream, const runtime::RuntimeData& data);
// The same bytes, encoded straight into the string a queued WebSocket frame holds (one
// allocation, no copy: the per-frame path of the server and the client).
std::string encode_data_frame_bytes(std::string_view stream, const runtime::RuntimeData& data);
// The binary value a client sends for 16-bit PCM (see decode_data_frame).
runtime::DataPtr make_s16_audio(std::span<const std::int16_t> samples, std::uint32_t sample_rate,
                                std::uint16_t channels, std::int64_t timestamp_us);

}  // namespace rm::server
