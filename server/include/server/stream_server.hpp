#pragma once
// The streaming server behind `remotemedia serve` (docs/streaming.md): one Beast listener that
// answers plain HTTP through a core::http::Router (/health, /v1/pipelines, /v1/sessions,
// /metrics, the browser page) and upgrades GET /v1/stream to a WebSocket per session.
//
//   auto catalog = PipelineCatalog::load("examples/server");
//   StreamServer server(std::move(*catalog), {.host = "127.0.0.1", .port = 8090});
//   if (auto ok = server.start(); !ok) { /* names host:port and the cause */ }
//   ... server.drain();   // SIGTERM: stop accepting, let sessions finish, close the rest
//
// Guarantees: every session is its own runtime::Session; a session whose client disconnects is
// cancelled and torn down (node threads joined, processes and containers ended); memory per
// session is bounded (input frames and queued output bytes, see ServerOptions); bad input from
// a client is answered with a close code and reason, never by ending the process.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "core/metrics.hpp"
#include "server/pipeline_catalog.hpp"

namespace rm::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8090;     // 0 = any free port (read back with port())
  int threads = 2;               // io threads, sessions spread over them (pipelines: own threads or inline)
  std::string auth_token;        // empty = no authentication
  std::size_t max_sessions = 0;  // 0 = 64 per hardware thread
  std::size_t max_frame_bytes = 4 * 1024 * 1024;
  std::size_t input_queue_frames = 64;                // decoded frames waiting for the pipeline
  std::size_t output_buffer_bytes = 8 * 1024 * 1024;  // encoded outputs waiting for the socket
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{30'000};  // a client that reads nothing this long is dropped
  std::chrono::milliseconds drain_timeout{30'000};
  // How long a session's idle node thread spins before it sleeps (runtime::SessionOptions::spin).
  std::chrono::microseconds node_spin{100};
  // Pipelines whose nodes are all native run on the session's io thread (runtime
  // SessionOptions::inline_nodes), not on a thread per node: no hand-off per frame.
  bool inline_nodes = true;
  std::filesystem::path
      web_root;  // share/remotemedia/web: stream/ served at /, vendor/ at /vendor (empty = none)
};

class StreamServer {
 public:
  StreamServer(PipelineCatalog catalog, ServerOptions options);
  ~StreamServer();  // drain() with what is left of the drain timeout
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  [[nodiscard]] tl::expected<void, std::string> start();
  std::uint16_t port() const;
  std::size_t active_sessions() const;
  // Stops accepting (upgrades get 503), waits up to drain_timeout for running sessions to end,
  // closes the rest with 1001, waits for their teardown, then stops the io threads. Idempotent.
  void drain();

  core::metrics::Registry& metrics();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace rm::server
