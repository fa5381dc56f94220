#pragma once
// The gateway's view of the collector's health: a background thread asks the collector's
// /health every `interval` (each request bounded by `timeout`) and keeps the last answer, so
// the gateway's own /health answers from memory and a hung collector never holds up an API
// request.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace rm::telemetry {

class CollectorProbe {
 public:
  struct Result {
    std::string state = "unknown";  // ok | unhealthy | unreachable | unknown (not probed yet)
    std::string error;
    std::chrono::system_clock::time_point checked_at{};
    std::uint64_t probes = 0;
  };
  CollectorProbe(std::string host, std::uint16_t port, std::chrono::milliseconds timeout,
                 std::chrono::milliseconds interval);
  ~CollectorProbe();
  CollectorProbe(const CollectorProbe&) = delete;
  CollectorProbe& operator=(const CollectorProbe&) = delete;

  // Probes once now (synchronously), then every interval on a background thread.
  void start();
  void stop();
  Result last() const;

 private:
  void probe_once();
  std::string host_;
  std::uint16_t port_;
  std::chrono::milliseconds timeout_, interval_;
  mutable std::mutex mu_;
  Result last_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rm::telemetry
