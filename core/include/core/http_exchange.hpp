#pragma once
// One HTTP/1.1 request/response exchange over a fresh connection: the client under both
// core::http::fetch (TCP) and the Docker Engine transport (unix socket). The same code runs
// for both stream types; only how the connection is opened differs.
//
// Guarantees:
// - One deadline covers connect (further bounded by connect_timeout), write and read: an
//   asynchronous timer closes the connection at the deadline, so the call returns at its
//   deadline or at completion, whichever comes first (no polling).
// - A CancelToken set from another thread ends the call at once with ExchangeErrc::cancelled.
// - The body is handed to on_body as it arrives (streams such as build progress and followed
//   logs are delivered incrementally); on_body returning false ends the exchange early and
//   is not an error.
// - Each call owns its connection and its io_context, so calls may run on any number of
//   threads at once. It never throws.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

#include "core/cancel_token.hpp"

namespace rm::core::http {

struct TcpEndpoint {
  std::string host;  // name or address; resolved inside the deadline
  std::uint16_t port = 0;
};
struct UnixEndpoint {
  std::string path;
};
using Endpoint = std::variant<TcpEndpoint, UnixEndpoint>;

struct OutgoingRequest {
  std::string method = "GET";
  std::string target = "/";
  std::string host;  // Host header; defaults to the TCP host or "localhost"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // Content-Length is set when there is a body or the method is POST/PUT
};

struct ResponseHandler {
  // Status and header fields (names lower-cased, in order), once, before any body piece.
  std::function<void(int status, const std::vector<std::pair<std::string, std::string>>& headers)> on_header;
  std::function<bool(std::string_view piece)> on_body;  // false: stop reading, not an error
};

struct ExchangeOptions {
  std::chrono::milliseconds timeout{5'000};                  // the whole exchange
  std::optional<std::chrono::milliseconds> connect_timeout;  // tighter bound until connected
  const CancelToken* cancel = nullptr;
  std::optional<std::uint64_t> body_limit;  // none: unbounded (streams)
  std::string peer = "the server";          // named in protocol errors
};

enum class ExchangeErrc {
  connect_failed,   // refused, no such socket, resolve failed
  connect_timeout,  // the deadline passed before the connection was open
  timeout,          // the deadline passed after connecting
  cancelled,
  write_failed,
  read_failed,
  malformed,  // not HTTP, or a body over body_limit
  truncated,  // the peer closed before the end of the response
};

struct ExchangeError {
  ExchangeErrc code;
  std::string stage;   // resolve, connect, write, read
  std::string reason;  // the system's or the parser's words
};

// Returns the response status once the response is complete (or on_body stopped it).
[[nodiscard]] tl::expected<int, ExchangeError> exchange(const Endpoint& endpoint,
                                                        const OutgoingRequest& request,
                                                        const ResponseHandler& handler,
                                                        const ExchangeOptions& options);

}  // namespace rm::core::http
