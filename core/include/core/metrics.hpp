#pragma once
// Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
// exposition format 0.0.4 (HELP/TYPE lines, escaped label values and help, histogram buckets
// with `le` including +Inf, _sum and _count).
//
// Usage:
//   rm::core::metrics::Registry registry;
//   auto& requests = registry.counter("app_requests_total", "Requests served.", {"route"});
//   auto& ok = requests.labels({"/health"});   // look up once, keep the reference
//   ok.inc();                                   // hot path: one relaxed atomic add
//   auto& latency = registry.histogram("app_latency_seconds", "Latency.", {}, {0.001, 0.01});
//   latency.labels({}).observe(0.003);
//   std::string text = registry.expose();
//   auto server = rm::core::metrics::serve(registry, "0.0.0.0", 9091);  // GET /metrics
//
// Guarantees: every method is thread-safe. References returned by counter()/labels() stay
// valid for the registry's lifetime. inc/set/observe are lock-free (atomics); labels() takes a
// mutex, so look a child up once and keep it. Registering the same name again with the same
// type and label names returns the existing family; a conflicting re-registration, an invalid
// metric or label name, or a wrong number of label values throws std::invalid_argument
// (a programming error, found by the first test that touches the code).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace rm::core::http {
class Server;
}

namespace rm::core::metrics {

class Counter {
 public:
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Cumulative count of observations <= each bound (last entry = +Inf = count()).
  std::vector<std::uint64_t> cumulative_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket, not cumulative
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

// Default latency buckets in seconds (100 us .. 10 s).
std::vector<double> default_latency_buckets();

// A metric name with label names; children are keyed by label values.
template <typename T>
class Family {
 public:
  using value_type_tag = T;
  T& labels(const std::vector<std::string>& values);
  const std::string& name() const { return name_; }

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Family<Counter>& counter(const std::string& name, const std::string& help,
                           const std::vector<std::string>& label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       const std::vector<std::string>& label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names = {},
                               std::vector<double> upper_bounds = default_latency_buckets());

  // A gauge whose value is read by a callback at exposition time (queue depth, sizes, ...).
  // The callback must be thread-safe and cheap.
  void gauge_callback(const std::string& name, const std::string& help, std::function<double()> read);
  // A counter read by a callback (a module's own monotonic atomic), exposed as TYPE counter.
  void counter_callback(const std::string& name, const std::string& help, std::function<double()> read);

  // The whole registry in text exposition format 0.0.4, families sorted by name.
  std::string expose() const;

 private:
  struct Entry;
  Entry& entry(const std::string& name, const std::string& help, const std::string& type,
               const std::vector<std::string>& label_names);
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>> families_;
};

// Text-format helpers, shared with endpoints that render their own exposition.
std::string escape_help(std::string_view help);          // '\' and newline
std::string escape_label_value(std::string_view value);  // '\', '"' and newline
std::string format_value(double v);                      // shortest round-trip, +Inf/-Inf/NaN
bool valid_metric_name(std::string_view name);           // [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_label_name(std::string_view name);            // [a-zA-Z_][a-zA-Z0-9_]*, not "__*"
// Renders `{a="x",b="y"}` (empty string for no labels).
std::string format_labels(const std::vector<std::pair<std::string, std::string>>& labels);

// The standard process_* metrics read from /proc/self at exposition time:
// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds.
void register_process_metrics(Registry& registry);

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Serves GET /metrics (and GET / with a pointer to it) for `registry` on host:port with one io
// thread. The registry must outlive the returned server. Error names host:port and the cause.
tl::expected<std::unique_ptr<http::Server>, std::string> serve(const Registry& registry,
                                                               const std::string& host, std::uint16_t port);

// ---- implementation of the template ----
template <typename T>
T& Family<T>::labels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + ": expected " + std::to_string(label_names_.size()) +
                                " label value(s), got " + std::to_string(values.size()));
  }
  std::lock_guard lock(mutex_);
  auto& slot = children_[values];
  if (!slot) slot = make_();
  return *slot;
}

}  // namespace rm::core::metrics
