#pragma once
// The read side of the telemetry store, as the API gateway uses it. Implemented by the
// in-memory index (fed by the collector directly, or by a read-only DATA_DIR follower in the
// gateway). All methods are thread-safe and may be called concurrently with ingestion.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/model.hpp"

namespace rm::telemetry {

struct GpuSummary {
  GpuInfo info;
  std::int64_t first_seen_ns = 0;
  std::int64_t last_seen_ns = 0;
  std::uint64_t samples = 0;  // samples currently retained (<= MAX_ENTRIES)
};

struct HostSummary {
  std::string hostname;
  std::vector<std::string> gpu_ids;
  std::int64_t last_seen_ns = 0;
};

struct TelemetryQuery {
  std::string gpu_id;
  std::optional<std::int64_t> start_ns;  // inclusive
  std::optional<std::int64_t> end_ns;    // inclusive
  std::vector<std::string> metrics;      // empty = all
  std::size_t limit = 1000;
  // Opaque position from a previous page's next_cursor (resume strictly after it).
  std::optional<std::string> cursor;
};

struct Point {
  std::int64_t timestamp_ns = 0;
  std::string metric;
  double value = 0;
};

struct TelemetryPage {
  std::vector<Point> points;               // ascending by (timestamp, arrival order)
  std::optional<std::string> next_cursor;  // set when more points match
};

// One sample of one metric of one GPU (the read path of the Prometheus query API).
struct SeriesSample {
  std::int64_t timestamp_ns = 0;
  double value = 0;
};

enum class QueryErrorCode { unknown_gpu, bad_cursor };
struct QueryError {
  QueryErrorCode code;
  std::string message;
};

class TelemetryView {
 public:
  virtual ~TelemetryView() = default;
  virtual std::vector<GpuSummary> gpus() const = 0;  // sorted by id
  virtual std::optional<GpuSummary> gpu(const std::string& id) const = 0;
  virtual std::vector<HostSummary> hosts() const = 0;  // sorted by hostname
  // Errors: unknown GPU, malformed cursor. An empty page is not an error.
  [[nodiscard]] virtual tl::expected<TelemetryPage, QueryError> query(const TelemetryQuery& q) const = 0;
  // Newest value of every metric of a GPU (empty when unknown).
  virtual std::vector<Point> latest(const std::string& gpu_id) const = 0;
  // The retained samples of each of `metrics` of one GPU with start_ns <= t <= end_ns, one
  // vector per requested metric (empty when the GPU or metric is unknown), each ascending by
  // time (ties in arrival order). The default pages through query(); the index overrides it
  // with a scan that skips to start_ns and copies no metric names.
  virtual std::vector<std::vector<SeriesSample>> samples(const std::string& gpu_id,
                                                         const std::vector<std::string>& metrics,
                                                         std::int64_t start_ns, std::int64_t end_ns) const;
};

}  // namespace rm::telemetry
