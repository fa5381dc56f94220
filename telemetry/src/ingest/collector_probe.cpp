#include "telemetry/ingest/collector_probe.hpp"

#include <fmt/format.h>

#include "core/http_client.hpp"
#include "thread_boundary.hpp"

namespace rm::telemetry {

CollectorProbe::CollectorProbe(std::string host, std::uint16_t port, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds interval)
    : host_(std::move(host)), port_(port), timeout_(timeout), interval_(interval) {}

CollectorProbe::~CollectorProbe() {
  stop();
}

void CollectorProbe::probe_once() {
  Result r;
  auto resp = core::http::get(host_, port_, "/health", timeout_);
  if (!resp) {
    r.state = "unreachable";
    r.error = resp.error();
  } else if (resp->status != 200) {
    r.state = "unhealthy";
    r.error = fmt::format("collector /health answered {}", resp->status);
  } else {
    r.state = "ok";
  }
  r.checked_at = std::chrono::system_clock::now();
  std::lock_guard lk(mu_);
  r.probes = last_.probes + 1;
  last_ = std::move(r);
}

void CollectorProbe::start() {
  probe_once();
  thread_ = std::thread([this] {
    detail::guard_thread("collector probe", [this] {
      std::unique_lock lk(mu_);
      while (!stop_) {
        cv_.wait_for(lk, interval_, [&] { return stop_; });
        if (stop_) break;
        lk.unlock();
        probe_once();
        lk.lock();
      }
    });
  });
}

void CollectorProbe::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

CollectorProbe::Result CollectorProbe::last() const {
  std::lock_guard lk(mu_);
  return last_;
}

}  // namespace rm::telemetry
