#pragma once
// What the evaluator reads: series (a label set including __name__) and their samples.
// Times are milliseconds since the Unix epoch, as in Prometheus.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "promql/ast.hpp"

namespace rm::promql {

// Sorted by name, unique names; "__name__" holds the metric name.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Prometheus' rendering: name{a="1", b="2"} (used in error messages).
std::string format_labels(const Labels& labels);
bool labels_less(const Labels& a, const Labels& b);

struct Sample {
  std::int64_t t = 0;  // ms
  double v = 0;
};

// Prometheus' staleness marker: a NaN with this exact bit pattern ends a series early.
bool is_stale_marker(double v);
double stale_marker();

struct SeriesData {
  Labels labels;
  std::vector<Sample> samples;  // ascending by time
};

// Thread-safe: the HTTP API evaluates queries concurrently against one storage.
class Storage {
 public:
  virtual ~Storage() = default;
  // Every series whose labels satisfy all matchers (a missing label matches as ""), with its
  // samples in [mint, maxt] (inclusive), sorted by labels. A series with no sample in the
  // window is left out.
  virtual std::vector<SeriesData> select(const std::vector<Matcher>& matchers, std::int64_t mint,
                                         std::int64_t maxt) const = 0;
  // Label sets of the matching series that have a sample in [mint, maxt], sorted by labels.
  virtual std::vector<Labels> series(const std::vector<Matcher>& matchers, std::int64_t mint,
                                     std::int64_t maxt) const = 0;
};

// True when every matcher accepts the labels (a missing label is "").
bool matches_all(const std::vector<Matcher>& matchers, const Labels& labels);

}  // namespace rm::promql
