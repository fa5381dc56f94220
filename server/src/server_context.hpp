#pragma once
// What every session of one StreamServer shares: the catalog, the options, the metrics and the
// registry of live sessions (for /v1/sessions, --max-sessions and the drain).
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <boost/json/value.hpp>

#include "core/metrics.hpp"
#include "server/pipeline_catalog.hpp"
#include "server/stream_server.hpp"

namespace rm::server {

class StreamSession;

struct ServerMetrics {
  explicit ServerMetrics(core::metrics::Registry& r);
  core::metrics::Gauge& active;
  core::metrics::Counter& started;
  core::metrics::Counter& failed;
  core::metrics::Family<core::metrics::Counter>& rejected;
  core::metrics::Counter& frames_in;
  core::metrics::Counter& frames_out;
  core::metrics::Counter& bytes_in;
  core::metrics::Counter& bytes_out;
  core::metrics::Histogram& latency;
};

class ServerContext {
 public:
  ServerContext(PipelineCatalog catalog, ServerOptions options);

  const PipelineCatalog& catalog() const { return catalog_; }
  const ServerOptions& options() const { return options_; }
  core::metrics::Registry& registry() { return registry_; }
  ServerMetrics& metrics() { return metrics_; }

  // Takes a session slot: "" on success, else why not ("draining", "capacity").
  std::string reserve();
  void attach(const std::shared_ptr<StreamSession>& s);
  // Gives the slot back and forgets the session (its teardown is complete).
  void release(const StreamSession* s);
  std::size_t active() const;
  bool draining() const;
  void set_draining();
  // Blocks until no session is left or the deadline passes; true if none is left.
  bool wait_empty_until(std::chrono::steady_clock::time_point deadline);
  // Asks every live session to close with 1001.
  void shut_down_all();
  boost::json::value describe_sessions() const;

 private:
  PipelineCatalog catalog_;
  ServerOptions options_;
  core::metrics::Registry registry_;
  ServerMetrics metrics_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t reserved_ = 0;
  bool draining_ = false;
  std::map<const StreamSession*, std::weak_ptr<StreamSession>> sessions_;
};

}  // namespace rm::server
