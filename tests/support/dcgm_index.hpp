#pragma once
// The real DCGM export (tests/data) loaded into a real telemetry index as if it had been
// streamed `rounds` times, one round every 15 s from kBase, each row keeping its CSV value.
#include <memory>
#include <string>
#include <vector>

#include "promql/http_api.hpp"
#include "telemetry/gateway/gateway.hpp"
#include "telemetry/ingest/csv.hpp"
#include "telemetry/storage/index.hpp"

namespace promql_test {

inline constexpr std::int64_t kBaseMs = 1752871354000LL;  // 2025-07-18T20:42:34Z
inline constexpr std::int64_t kRoundMs = 15'000;

inline std::vector<rm::telemetry::CsvRow> dcgm_rows() {
  auto rows = rm::telemetry::read_telemetry_csv(std::string(RM_SOURCE_DIR) +
                                                "/tests/data/dcgm_metrics_20250718_134233.csv");
  return rows ? *rows : std::vector<rm::telemetry::CsvRow>{};
}

inline std::shared_ptr<rm::telemetry::Index> dcgm_index(int rounds) {
  auto index = std::make_shared<rm::telemetry::Index>(100000);
  const auto rows = dcgm_rows();
  for (int r = 0; r < rounds; ++r) {
    for (const auto& row : rows) {
      auto* gpu = index->upsert_gpu(row.gpu);
      for (const auto& [metric, value] : row.metrics) {
        index->append(gpu, index->metric_id(metric), (kBaseMs + r * kRoundMs) * 1'000'000, value);
      }
    }
  }
  return index;
}

// Gateway options with the Prometheus API routes and no reachable collector.
inline rm::telemetry::GatewayOptions promql_gateway_options() {
  rm::telemetry::GatewayOptions o;
  o.collector_host = "127.0.0.1";
  o.collector_port = 1;
  o.route_groups.push_back(rm::promql::add_routes);
  return o;
}

}  // namespace promql_test
