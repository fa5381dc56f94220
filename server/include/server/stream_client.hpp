#pragma once
// A C++ client of the streaming server (docs/streaming.md), used by `remotemedia stream`, the
// integration tests and the benchmarks.
//
//   auto c = StreamClient::connect("http://127.0.0.1:8090", "passthrough");   // waits for ready
//   (*c)->send("", RuntimeData::make_audio(...));   // blocks while its send buffer is full
//   (*c)->end();
//   while (auto ev = (*c)->next()) { if (ev->kind == ClientEvent::Kind::closed) break; ... }
//
// Threads: by default one io thread per client runs the reader and the writer; send()/end()/next()
// may be called from any thread. Received events queue up until next() takes them.
// ClientOptions::caller_driven: no io thread; the threads calling the client run its reader and
// writer themselves (send() writes on the caller's thread, next() reads on it), which takes two
// thread hand-offs out of every round trip. send()/end()/next() may still be called from any
// threads, also at the same time, but data is read only while some thread is inside next() (or a
// send() waiting for buffer space): call next() regularly, as a reader loop does.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <tl/expected.hpp>

#include "runtime/runtime_data.hpp"

namespace rm::server {

struct ClientOptions {
  std::string token;           // sent as Authorization: Bearer <token> when not empty
  std::string session_id;      // requested session id (empty: the server picks one)
  boost::json::object params;  // per-session params {"node.param": value} (GET /v1/pipelines lists them)
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds ready_timeout{600'000};  // image builds may take minutes
  std::size_t send_buffer_bytes = 4 * 1024 * 1024;
  std::function<void(const boost::json::object& progress)> on_progress;
  bool caller_driven = false;  // no io thread: the calling threads drive the connection (see above)
};

struct ClientError {
  std::string message;
  int http_status = 0;  // the refused upgrade's status (401, 503), else 0
  int close_code = 0;   // the server's close code when it closed before ready
  std::string param;    // the session param the server refused (close 4422), else empty
};

struct ClientEvent {
  enum class Kind { output, error, done, closed } kind = Kind::closed;
  std::string node;       // output: the output node id; error: the failing node (may be empty)
  runtime::DataPtr data;  // output
  std::string message;    // error message, close reason
  std::string code;       // error code ("process_failed", ...)
  int close_code = 0;     // closed: the close code (1006 when the connection broke)
};

class StreamClient {
 public:
  // `url`: http://host:port or ws://host:port (the path /v1/stream is used).
  static tl::expected<std::unique_ptr<StreamClient>, ClientError> connect(std::string_view url,
                                                                          std::string_view pipeline,
                                                                          ClientOptions options = {});
  ~StreamClient();  // closes the connection (end of stream is not implied)
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  const boost::json::object& ready() const;  // the server's ready message
  std::string session_id() const;

  // False once the connection is closing or closed.
  bool send(std::string_view input, const runtime::RuntimeData& data);
  bool end(std::string_view input = {});
  // Sends bytes as they are, as a text or binary frame (protocol tests, other encoders).
  bool send_raw(std::string bytes, bool text);
  // Drops the TCP connection without a close handshake (a client that vanishes).
  void abort();
  // The next event; nullopt on timeout. After `closed`, always `closed` again.
  std::optional<ClientEvent> next(std::chrono::milliseconds timeout = std::chrono::hours(24));

 private:
  struct Impl;
  explicit StreamClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// host, port and path from "http://h:p[/...]" or "ws://h:p[/...]"; error names the URL.
struct ParsedUrl {
  std::string host;
  std::uint16_t port = 0;
};
tl::expected<ParsedUrl, std::string> parse_server_url(std::string_view url);

}  // namespace rm::server
