#pragma once
// A NATS connection with its JetStream context, and the two telemetry streams (nats.hpp).
// Private to telemetry/: the C client's types do not leak into public headers.
#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/cluster/nats.hpp"
#include "telemetry/error.hpp"

namespace rm::telemetry::nats {

// "timeout", "no responders available for request", plus the JetStream error code when set.
// Errors: TelemetryErrc::unavailable (no server, no quorum), timeout (a deadline passed),
// invalid_argument (an existing stream that does not match the configuration).
std::string status_text(natsStatus s, jsErrCode e = static_cast<jsErrCode>(0));

struct ReplicaState {
  std::string name;
  bool current = false;
  bool offline = false;
  std::uint64_t lag = 0;
};
struct StreamState {
  std::string name;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t last_seq = 0;
  std::string leader;
  std::vector<ReplicaState> replicas;  // followers as the leader sees them
};

struct JsDeleter {
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
};
using JsPtr = std::unique_ptr<jsCtx, JsDeleter>;

class Client {
 public:
  // Connects to any server of cfg.servers, retrying until `timeout`; afterwards the
  // connection reconnects forever (every 100 ms) and pings every second, so a dead server is
  // noticed within about two seconds.
  [[nodiscard]] static Result<std::unique_ptr<Client>> connect(const NatsConfig& cfg, const std::string& name,
                                                               std::chrono::milliseconds timeout);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  natsConnection* conn() const { return nc_; }
  jsCtx* js() const { return js_.get(); }
  const NatsConfig& config() const { return cfg_; }
  // A second JetStream context with its own options (async publish handlers).
  [[nodiscard]] Result<JsPtr> context(jsOptions& opts) const;

  // Creates both streams, or checks that existing ones have the configured subjects,
  // retention and replicas (a mismatch is an error naming both values). Retries while the
  // cluster has no JetStream leader yet, up to `timeout`.
  [[nodiscard]] Status ensure_streams(std::chrono::milliseconds timeout);
  // Creates the collectors' durable pull consumer on the work queue, or checks it exists.
  [[nodiscard]] Status ensure_consumer(std::chrono::milliseconds timeout);
  [[nodiscard]] Result<StreamState> stream_state(const std::string& name) const;

 private:
  explicit Client(NatsConfig cfg) : cfg_(std::move(cfg)) {}
  NatsConfig cfg_;
  natsConnection* nc_ = nullptr;
  JsPtr js_;
};

}  // namespace rm::telemetry::nats
