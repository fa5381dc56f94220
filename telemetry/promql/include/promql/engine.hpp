#pragma once
// PromQL evaluation with Prometheus 2.42's semantics:
// - A range query evaluates the expression at start, start + step, ... up to end (no
//   alignment of its own: Prometheus evaluates exactly those instants); an instant query is
//   the one-step case.
// - An instant selector takes each series' newest sample in [t - offset - lookback, t - offset]
//   (lookback delta 5 m by default); a staleness marker as newest sample hides the series.
// - A range selector takes the samples in [t - offset - range, t - offset], staleness markers
//   dropped.
// - rate/increase/delta extrapolate to the window edges as Prometheus' extrapolatedRate does.
// Each selector's series are read from storage once per query, for the whole range, and
// walked step by step; label sets are interned so steps share them.
#include <cstdint>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "promql/parser.hpp"
#include "promql/storage.hpp"

namespace rm::promql {

struct EngineOptions {
  std::int64_t lookback_ms = 5 * 60 * 1000;
  // Upper bound on samples held at once (selected from storage plus produced), as
  // Prometheus' --query.max-samples (default 50 million).
  std::size_t max_samples = 50'000'000;
};

struct SeriesResult {
  Labels labels;
  std::vector<Sample> points;
};

struct QueryResult {
  ValueType type = ValueType::vector;  // vector, matrix, scalar or string
  std::vector<SeriesResult> series;    // vector: one point each; matrix: ascending points
  Sample scalar;                       // scalar (t, v)
  std::string string_value;            // string
  std::int64_t string_t = 0;
};

[[nodiscard]] tl::expected<QueryResult, Error> instant_query(const Storage& storage, const Expr& expr,
                                                             std::int64_t t, const EngineOptions& opts = {});
// step > 0, start <= end. The result is a matrix (scalars become one series without labels).
[[nodiscard]] tl::expected<QueryResult, Error> range_query(const Storage& storage, const Expr& expr,
                                                           std::int64_t start, std::int64_t end,
                                                           std::int64_t step, const EngineOptions& opts = {});

}  // namespace rm::promql
