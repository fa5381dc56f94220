// kill -9 of the collector while a producer streams: every acknowledged sample is present
// exactly once after restart, and a corrupted tail of the last segment is recovered.
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "process.hpp"
#include "support/telemetry_test_util.hpp"
#include "telemetry/storage/follower.hpp"
#include "telemetry/storage/wal.hpp"
#include "telemetry/wire/client.hpp"

using namespace rm::telemetry;
using namespace rm::telemetry::test;
using namespace std::chrono_literals;

TEST(IngestCrash, kill_9_loses_no_acknowledged_sample_and_duplicates_none) {
  TempDir data;
  CollectorPorts ports;
  const std::vector<std::pair<std::string, std::string>> env = {
      {"MAX_ENTRIES", "100000"}, {"SEGMENT_BYTES", "65536"}, {"CHECKPOINT_INTERVAL_MS", "300"}};
  auto collector = start_collector(data.path(), ports, env);
  ASSERT_TRUE(collector);

  constexpr int kBatches = 400, kPerBatch = 50, kGpus = 8;
  std::vector<std::shared_ptr<const GpuInfo>> gpus;
  for (int g = 0; g < kGpus; ++g)
    gpus.push_back(gpu(fmt::format("GPU-crash-{}", g), fmt::format("host-{}", g % 3)));
  std::mutex mu;
  std::set<double> acked_values;
  std::atomic<int> acked_batches{0};
  std::atomic<bool> producer_ok{true};
  std::thread producer([&] {
    ReliablePublisher pub({.host = "127.0.0.1",
                           .port = ports.broker,
                           .producer_id = "crash-producer",
                           .backoff_min = 20ms,
                           .backoff_max = 300ms},
                          [&](std::uint64_t, const std::vector<OutSample>& s, bool) {
                            std::lock_guard lk(mu);
                            for (const auto& x : s) acked_values.insert(x.value);
                            acked_batches++;
                          });
    for (int b = 0; b < kBatches; ++b) {
      std::vector<OutSample> s;
      for (int k = 0; k < kPerBatch; ++k) {
        const int v = b * kPerBatch + k;  // unique value per sample
        s.push_back({gpus[static_cast<std::size_t>(v % kGpus)].get(), "DCGM_FI_DEV_GPU_UTIL", 1'000'000 + v,
                     double(v)});
      }
      if (!pub.publish(std::move(s))) producer_ok = false;
    }
    if (!pub.flush(60s)) producer_ok = false;
  });

  // Crash twice in the middle of the stream; before the second restart also tear the tail
  // of the newest segment as a crash during a write would.
  for (int crash = 0; crash < 2; ++crash) {
    const int target = 80 + crash * 120;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (acked_batches.load() < target && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    collector->signal(SIGKILL);
    EXPECT_EQ(collector->wait(10s), 128 + SIGKILL);
    if (crash == 1) {
      const auto wal = data.path() / "collector-test" / "wal";
      const auto segs = list_segments(wal);
      ASSERT_FALSE(segs.empty());
      std::ofstream(wal / segment_name(segs.back()), std::ios::binary | std::ios::app)
          << std::string("\x40\x00\x00\x00\x12\x34\x56\x78\x03partial-record", 23);
    }
    collector = start_collector(data.path(), ports, env);
    ASSERT_TRUE(collector);
  }
  producer.join();
  EXPECT_TRUE(producer_ok.load());
  EXPECT_EQ(acked_batches.load(), kBatches);

  collector->signal(SIGTERM);
  EXPECT_EQ(collector->wait(30s), 0);

  DataDirFollower f({.data_dir = data.path(), .max_entries = 100000});
  f.poll_once();
  std::map<double, int> seen;
  for (const auto& g : f.gpus()) {
    TelemetryQuery q{.gpu_id = g.info.id, .limit = 1'000'000};
    auto page = f.query(q);
    ASSERT_TRUE(page);
    for (const auto& p : page->points) seen[p.value]++;
  }
  std::size_t missing = 0, duplicated = 0;
  for (double v : acked_values) missing += seen.count(v) ? 0 : 1;
  for (auto& [v, n] : seen) duplicated += n > 1 ? 1 : 0;
  EXPECT_EQ(acked_values.size(), std::size_t{kBatches * kPerBatch});
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(seen.size(), std::size_t{kBatches * kPerBatch});
}
