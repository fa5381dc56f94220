#pragma once
// Errors of the telemetry module at its boundaries (configuration, WAL and store files, the
// broker's listener, time and duration parsing, the gateway's data directory, the publisher
// factory, cluster set-up). Every error carries a message a user can act on: it names the file,
// directory, parameter, address or value, and what to do about it.
//
// The store's acknowledgement path keeps its own StoreError (its codes are mapped onto the
// broker protocol's ERROR codes), the broker client its ClientError (fatal/retry), and queries
// their QueryError (404/400); they all follow this shape.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace rm::telemetry {

enum class TelemetryErrc : std::uint8_t {
  invalid_argument,  // a bad value from the user: a flag, env var, query parameter, time text
  io,                // open/read/write/fsync/rename/bind failed; the message carries errno text
  corrupt,           // a file's bytes do not decode (bad magic, CRC, truncated record, JSON)
  not_found,         // a directory or file that must exist does not
  unavailable,       // a dependency is down or not ready (NATS server, store not created yet)
  protocol,          // a peer sent something the protocol does not allow
  timeout,           // a deadline passed
  state,             // API misuse or a state that forbids the call (started twice, ...)
};

[[nodiscard]] constexpr std::string_view to_string(TelemetryErrc code) {
  switch (code) {
    case TelemetryErrc::invalid_argument:
      return "invalid argument";
    case TelemetryErrc::io:
      return "I/O error";
    case TelemetryErrc::corrupt:
      return "corrupt data";
    case TelemetryErrc::not_found:
      return "not found";
    case TelemetryErrc::unavailable:
      return "unavailable";
    case TelemetryErrc::protocol:
      return "protocol error";
    case TelemetryErrc::timeout:
      return "timeout";
    case TelemetryErrc::state:
      return "invalid state";
  }
  return "unknown telemetry error";
}

struct TelemetryError {
  TelemetryErrc code = TelemetryErrc::io;
  // Names the file/directory/parameter/address and what to do about it.
  std::string message;
};

// "<code>: <message>", for logs and CLI output.
[[nodiscard]] inline std::string to_string(const TelemetryError& e) {
  std::string out(to_string(e.code));
  out += ": ";
  out += e.message;
  return out;
}

template <typename T>
using Result = tl::expected<T, TelemetryError>;
using Status = tl::expected<void, TelemetryError>;

[[nodiscard]] inline tl::unexpected<TelemetryError> telemetry_error(TelemetryErrc code, std::string message) {
  return tl::unexpected(TelemetryError{code, std::move(message)});
}

}  // namespace rm::telemetry
