#include "server_context.hpp"

#include "stream_session.hpp"

namespace rm::server {

ServerMetrics::ServerMetrics(core::metrics::Registry& r)
    : active(r.gauge("rm_server_sessions_active", "Streaming sessions open now.").labels({})),
      started(r.counter("rm_server_sessions_started_total", "Sessions that sent a valid start message.")
                  .labels({})),
      failed(r.counter("rm_server_sessions_failed_total",
                       "Sessions ended by a node error, a protocol violation or a timeout.")
                 .labels({})),
      rejected(r.counter("rm_server_sessions_rejected_total", "WebSocket upgrades refused, by reason.",
                         {"reason"})),
      frames_in(
          r.counter("rm_server_frames_total", "Data frames, by direction.", {"direction"}).labels({"in"})),
      frames_out(
          r.counter("rm_server_frames_total", "Data frames, by direction.", {"direction"}).labels({"out"})),
      bytes_in(r.counter("rm_server_bytes_total", "WebSocket payload bytes, by direction.", {"direction"})
                   .labels({"in"})),
      bytes_out(r.counter("rm_server_bytes_total", "WebSocket payload bytes, by direction.", {"direction"})
                    .labels({"out"})),
      latency(
          r.histogram(
               "rm_server_frame_latency_seconds",
               "From an input frame's arrival to the hand-off of an output with the same media timestamp.",
               {},
               {25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0})
              .labels({})) {}

ServerContext::ServerContext(PipelineCatalog catalog, ServerOptions options)
    : catalog_(std::move(catalog)), options_(std::move(options)), metrics_(registry_) {}

std::string ServerContext::reserve() {
  std::lock_guard lock(mutex_);
  if (draining_) return "draining";
  if (reserved_ >= options_.max_sessions) return "capacity";
  ++reserved_;
  metrics_.active.set(static_cast<double>(reserved_));
  return {};
}

void ServerContext::attach(const std::shared_ptr<StreamSession>& s) {
  std::lock_guard lock(mutex_);
  sessions_[s.get()] = s;
}

void ServerContext::release(const StreamSession* s) {
  {
    std::lock_guard lock(mutex_);
    if (sessions_.erase(s) == 0) return;
    --reserved_;
    metrics_.active.set(static_cast<double>(reserved_));
  }
  changed_.notify_all();
}

std::size_t ServerContext::active() const {
  std::lock_guard lock(mutex_);
  return reserved_;
}

bool ServerContext::draining() const {
  std::lock_guard lock(mutex_);
  return draining_;
}

void ServerContext::set_draining() {
  std::lock_guard lock(mutex_);
  draining_ = true;
}

bool ServerContext::wait_empty_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] { return reserved_ == 0; });
}

void ServerContext::shut_down_all() {
  std::vector<std::shared_ptr<StreamSession>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& [_, w] : sessions_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->shut_down();
}

boost::json::value ServerContext::describe_sessions() const {
  std::vector<std::shared_ptr<StreamSession>> live;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [_, w] : sessions_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  boost::json::array out;
  for (const auto& s : live) out.emplace_back(s->info());
  return boost::json::object{{"sessions", std::move(out)}};
}

}  // namespace rm::server
