// dashboard_seed_history: gives a collector hours of history from the real DCGM export, so the
// dashboard's windows (15 min, 1 h, 6 h) have something to show. Publishes through the real
// broker protocol (ReliablePublisher) like the streamer, but with timestamps in the past:
// `--points` rounds, `--step-ms` apart, the last one at now. Every round sends every row of
// the CSV; round k gives each GPU the value the k-th next GPU of the file has for that metric,
// so each series walks through the fleet's real values instead of repeating one.
//   dashboard_seed_history --csv F --broker-port P [--host H] --points N --step-ms S
//                          [--gpus K (only the first K GPUs of the file)]
// Prints {"samples":..,"first_ns":..,"last_ns":..,"gpus":..} on success.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include "telemetry/ingest/csv.hpp"
#include "telemetry/wire/client.hpp"

int main(int argc, char** argv) {
  using namespace rm::telemetry;
  std::string csv, host = "127.0.0.1";
  std::uint16_t port = 0;
  long long points = 100, step_ms = 60'000, max_gpus = 0;
  CLI::App app{"Publish backdated history from a DCGM CSV to a collector"};
  app.add_option("--csv", csv, "DCGM export")->required();
  app.add_option("--host", host, "broker host")->capture_default_str();
  app.add_option("--broker-port", port, "broker port")->required();
  app.add_option("--points", points, "rounds per series")->check(CLI::Range(1LL, 10'000'000LL));
  app.add_option("--step-ms", step_ms, "time between rounds")->check(CLI::Range(1LL, 86'400'000LL));
  app.add_option("--gpus", max_gpus, "only the first K GPUs (0 = all)")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  auto rows = read_telemetry_csv(csv);
  if (!rows) {
    std::fprintf(stderr, "dashboard_seed_history: %s\n", rows.error().message.c_str());
    return 1;
  }
  // GPUs in file order, and per metric the values in file order.
  std::vector<std::string> order;
  std::map<std::string, const GpuInfo*> gpus;
  std::map<std::string, std::vector<double>> values;                         // metric -> values
  std::vector<std::tuple<const GpuInfo*, std::string, std::size_t>> series;  // gpu, metric, slot
  for (const auto& r : *rows) {
    if (!gpus.count(r.gpu.id)) {
      if (max_gpus > 0 && static_cast<long long>(order.size()) >= max_gpus) continue;
      gpus[r.gpu.id] = &r.gpu;
      order.push_back(r.gpu.id);
    }
    for (const auto& [metric, value] : r.metrics) {
      auto& vs = values[metric];
      series.emplace_back(gpus[r.gpu.id], metric, vs.size());
      vs.push_back(value);
    }
  }
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::int64_t step = step_ms * 1'000'000;
  const std::int64_t first = now - (points - 1) * step;

  PublisherOptions po;
  po.host = host;
  po.port = port;
  po.producer_id = "seed-history";
  ReliablePublisher pub(po);
  std::vector<OutSample> batch;
  std::uint64_t sent = 0;
  for (long long k = 0; k < points; ++k) {
    const std::int64_t ts = first + k * step;
    for (const auto& [gpu, metric, slot] : series) {
      const auto& vs = values[metric];
      batch.push_back(OutSample{gpu, metric, ts, vs[(slot + static_cast<std::size_t>(k)) % vs.size()]});
      if (batch.size() >= 5000) {
        sent += batch.size();
        if (auto r = pub.publish(std::move(batch)); !r) {
          std::fprintf(stderr, "dashboard_seed_history: %s\n", r.error().message.c_str());
          return 1;
        }
        batch.clear();
      }
    }
  }
  sent += batch.size();
  if (!batch.empty()) {
    if (auto r = pub.publish(std::move(batch)); !r) {
      std::fprintf(stderr, "dashboard_seed_history: %s\n", r.error().message.c_str());
      return 1;
    }
  }
  if (auto r = pub.flush(std::chrono::seconds(60)); !r) {
    std::fprintf(stderr, "dashboard_seed_history: flush: %s\n", r.error().message.c_str());
    return 1;
  }
  boost::json::object o{{"samples", sent},
                        {"first_ns", first},
                        {"last_ns", first + (points - 1) * step},
                        {"gpus", order.size()}};
  std::printf("%s\n", boost::json::serialize(o).c_str());
  return 0;
}
