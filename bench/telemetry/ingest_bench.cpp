// Durable ingest through the broker into the store (WAL + fdatasync + index), over real TCP
// on 127.0.0.1, plus row -> queryable latency through the read-only DATA_DIR follower (what
// the API gateway serves from).
//
//   telemetry_ingest_bench [--seconds 10] [--producers 2] [--batch 1000] [--workers 2]
//                          [--gpus 247] [--max-entries 10000] [--dir /tmp]
//                          [--writer new|old|both] [--preallocate zeros|fallocate|none]
//                          [--rate samples/s] [--send-buffer bytes]
//
// --writer old: the store's writer as it was before pre-created segments and overlapped
// fdatasync (it waits for each fdatasync, creates segments on the ack path); both: old, then
// new, in one run, one after the other.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "core/log.hpp"
#include "telemetry/ingest/broker.hpp"
#include "telemetry/storage/follower.hpp"
#include "telemetry/storage/store.hpp"
#include "telemetry/wire/client.hpp"

using namespace rm::telemetry;
using Clock = std::chrono::steady_clock;

namespace {
double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

struct Config {
  int seconds = 10, producers = 2, batch = 1000, workers = 2, ngpus = 247;
  std::size_t max_entries = 10000;
  std::string base = "/tmp";
  double rate = 0;  // samples/s over all producers; 0 = as fast as credit allows
  Preallocate preallocate = Preallocate::fallocate;
  int send_buffer = BrokerOptions{}.send_buffer;  // the broker's SO_SNDBUF (0 = kernel autotuning)
};

int run_once(const Config& cfg, bool new_writer) {
  const int seconds = cfg.seconds, producers = cfg.producers, batch = cfg.batch, workers = cfg.workers,
            ngpus = cfg.ngpus;
  const std::size_t max_entries = cfg.max_entries;
  const auto dir = std::filesystem::path(cfg.base) / fmt::format("rm-ingest-bench-{}", ::getpid());
  StoreOptions so;
  so.dir = dir / "bench-collector";
  so.max_entries = max_entries;
  so.checkpoint_interval = std::chrono::seconds(30);
  so.overlapped_sync = new_writer;
  so.precreate_segments = new_writer;
  so.preallocate = cfg.preallocate;
  std::printf("== writer: %s\n", new_writer ? "new (pre-created segments, overlapped fdatasync)"
                                            : "old (fdatasync on the writer, segments created on roll)");
  auto store = Store::open(so);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  BrokerOptions bo;
  bo.bind_address = "127.0.0.1";
  bo.port = 0;
  bo.threads = workers;
  bo.send_buffer = cfg.send_buffer;
  BrokerServer broker(**store, bo);
  auto port = broker.start();
  if (!port) return 1;
  DataDirFollower follower(
      {.data_dir = dir, .max_entries = max_entries, .poll_interval = std::chrono::milliseconds(100)});
  follower.start();

  std::vector<std::shared_ptr<GpuInfo>> gpus;
  for (int g = 0; g < ngpus; ++g) {
    auto info = std::make_shared<GpuInfo>();
    info->id = info->uuid = fmt::format("GPU-bench-{:04}", g);
    info->hostname = fmt::format("host-{}", g / 8);
    info->gpu_index = std::to_string(g % 8);
    info->model = "NVIDIA H100 80GB HBM3";
    gpus.push_back(info);
  }
  std::atomic<bool> stop{false};
  std::mutex lat_mu;
  std::vector<double> ack_ms;
  std::atomic<std::uint64_t> samples{0};
  std::vector<std::thread> ts;
  const auto t0 = Clock::now();
  for (int p = 0; p < producers; ++p) {
    ts.emplace_back([&, p] {
      std::vector<Clock::time_point> sent;
      std::vector<double> mine;
      ReliablePublisher pub(
          {.host = "127.0.0.1", .port = *port, .producer_id = fmt::format("bench-{}", p)},
          [&](std::uint64_t seq, const std::vector<OutSample>& s, bool) {
            mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent[seq - 1]).count());
            samples += s.size();
          });
      std::int64_t ts_ns = 1'700'000'000'000'000'000;
      std::size_t g = static_cast<std::size_t>(p);
      // Open loop at --rate: batch k of this producer is due at t0 + k * interval.
      const auto interval = std::chrono::duration<double>(
          cfg.rate > 0 ? static_cast<double>(batch) * producers / cfg.rate : 0.0);
      auto due = Clock::now();
      while (!stop) {
        Clock::time_point at{};  // latency counts from the scheduled time (no coordinated omission)
        if (cfg.rate > 0) {
          std::this_thread::sleep_until(due);
          at = due;
          due += std::chrono::duration_cast<Clock::duration>(interval);
        }
        std::vector<OutSample> b;
        b.reserve(static_cast<std::size_t>(batch));
        for (int k = 0; k < batch; ++k) {
          b.push_back({gpus[g % gpus.size()].get(), k % 2 ? "DCGM_FI_DEV_GPU_UTIL" : "DCGM_FI_DEV_GPU_TEMP",
                       ++ts_ns, double(k)});
          ++g;
        }
        sent.push_back(cfg.rate > 0 ? at : Clock::now());
        if (!pub.publish(std::move(b))) break;
      }
      (void)pub.flush(std::chrono::seconds(30));
      std::lock_guard lk(lat_mu);
      ack_ms.insert(ack_ms.end(), mine.begin(), mine.end());
    });
  }
  // Row -> queryable: a probe producer publishes one marked sample every 50 ms and waits until
  // the follower (a separate reader of DATA_DIR) returns it.
  std::vector<double> visible_ms;
  std::thread probe([&] {
    GpuInfo info;
    info.id = "GPU-probe";
    ReliablePublisher pub({.host = "127.0.0.1", .port = *port, .producer_id = "probe"});
    for (int i = 1; !stop; ++i) {
      const auto start = Clock::now();
      if (!pub.publish({{&info, "probe", i, double(i)}})) break;
      while (!stop) {
        auto l = follower.latest("GPU-probe");
        if (!l.empty() && l[0].value >= i) break;
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      visible_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    (void)pub.flush(std::chrono::seconds(10));
  });
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  probe.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto& st = (*store)->stats();
  std::printf(
      "durable ingest: %.0f samples/s (%llu samples in %.1f s, %d producers x %d-sample batches, %d broker "
      "threads)\n",
      static_cast<double>(samples.load()) / elapsed, static_cast<unsigned long long>(samples.load()), elapsed,
      producers, batch, workers);
  std::printf("ack latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu batches)\n", pct(ack_ms, 50),
              pct(ack_ms, 99), pct(ack_ms, 100), ack_ms.size());
  std::printf(
      "fsyncs: %llu (%.1f batches per fsync), checkpoints: %llu\n",
      static_cast<unsigned long long>(st.fsyncs.load()),
      st.fsyncs ? static_cast<double>(st.batches.load()) / static_cast<double>(st.fsyncs.load()) : 0.0,
      static_cast<unsigned long long>(st.checkpoints.load()));
  std::printf("row -> queryable (follower, 100 ms poll): p50 %.1f ms, p99 %.1f ms (%zu probes)\n",
              pct(visible_ms, 50), pct(visible_ms, 99), visible_ms.size());
  follower.stop();
  broker.stop();
  (*store)->close();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  rm::core::init_logging("telemetry_ingest_bench");
  Config cfg;
  std::string writer = "new", prealloc = "fallocate";
  CLI::App app{"durable ingest benchmark"};
  app.add_option("--seconds", cfg.seconds);
  app.add_option("--producers", cfg.producers);
  app.add_option("--batch", cfg.batch);
  app.add_option("--workers", cfg.workers);
  app.add_option("--gpus", cfg.ngpus);
  app.add_option("--max-entries", cfg.max_entries);
  app.add_option("--dir", cfg.base);
  app.add_option("--rate", cfg.rate, "samples/s over all producers (open loop); 0 = saturate");
  app.add_option("--writer", writer, "new, old or both (old first)")
      ->check(CLI::IsMember({"new", "old", "both"}));
  app.add_option("--send-buffer", cfg.send_buffer,
                 "broker SO_SNDBUF per connection in bytes; 0 = kernel autotuning");
  app.add_option("--preallocate", prealloc, "how pre-created segments reserve space (new writer)")
      ->check(CLI::IsMember({"zeros", "fallocate", "none"}));
  CLI11_PARSE(app, argc, argv);
  cfg.preallocate = prealloc == "zeros"       ? Preallocate::zeros
                    : prealloc == "fallocate" ? Preallocate::fallocate
                                              : Preallocate::none;
  if (writer != "new") {
    if (int rc = run_once(cfg, false); rc != 0) return rc;
  }
  if (writer != "old") return run_once(cfg, true);
  return 0;
}
