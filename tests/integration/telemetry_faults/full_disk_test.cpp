// A full disk under a running collector: read-only with a clear reason, honest /ready and
// metrics, publishers backing off, and by itself writable again once space returns, with
// every acknowledged sample stored exactly once.
#include <signal.h>

#include <atomic>

#include "fault_util.hpp"
#include "integration/ingest/process.hpp"

namespace rm::telemetry::faults {
namespace {

using test::CollectorPorts;
using test::start_collector;

struct AckedSamples {
  std::mutex mu;
  std::multiset<std::int64_t> ts;
  void add(const std::vector<OutSample>& s) {
    std::lock_guard lk(mu);
    for (const auto& x : s) ts.insert(x.timestamp_ns);
  }
};

TEST(TelemetryFaults, a_full_disk_makes_the_store_read_only_and_it_resumes_by_itself_losing_nothing_acked) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting the small tmpfs needs root";
  ScratchDir scratch("full-disk");
  SmallDisk disk(scratch.path() / "disk", 16U << 20);
  if (disk.not_permitted()) GTEST_SKIP() << disk.error() << " (no CAP_SYS_ADMIN in this container)";
  ASSERT_TRUE(disk.error().empty()) << disk.error();
  const fs::path data = disk.path() / "data";
  fs::create_directories(data);
  CollectorPorts ports;
  const auto log_path = (scratch.path() / "collector.log").string();
  auto collector = start_collector(
      data, ports,
      {{"CHECKPOINT_ENABLED", "false"}, {"SEGMENT_BYTES", "1048576"}, {"MAX_ENTRIES", "1000000"}}, log_path);
  ASSERT_TRUE(collector) << slurp(log_path);
  auto get = [&](std::uint16_t port, const std::string& path) {
    return core::http::get("127.0.0.1", port, path, 2s);
  };

  constexpr int kProducers = 2;
  std::atomic<bool> stop{false};
  AckedSamples acked[kProducers];
  std::atomic<std::uint64_t> acked_batches{0};
  std::vector<PublisherStats> stats(kProducers);
  std::vector<std::string> errors(kProducers);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      KnownPublisher known(fmt::format("GPU-full-{}", p));
      PublisherOptions po;
      po.host = "127.0.0.1";
      po.port = ports.broker;
      po.producer_id = fmt::format("full-disk-{}", p);
      po.backoff_max = 2000ms;
      ReliablePublisher pub(po, [&, p](std::uint64_t, const std::vector<OutSample>& s, bool) {
        acked[p].add(s);
        acked_batches++;
      });
      for (std::uint64_t k = 0; !stop; ++k) {
        if (auto r = pub.publish(known.batch(k)); !r) {
          errors[p] = r.error().message;
          return;
        }
        std::this_thread::sleep_for(2ms);
      }
      if (auto r = pub.flush(60s); !r) errors[p] = r.error().message;
      stats[p] = pub.stats();
    });
  }
  ASSERT_TRUE(wait_until([&] { return acked_batches.load() >= 20; }, 20s)) << slurp(log_path);

  // Fill the disk: the next group commit fails and the store turns read-only.
  disk.fill(disk.path() / "filler");
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = get(ports.health, "/ready");
        return r && r->status == 503;
      },
      20s))
      << slurp(log_path);
  auto ready = get(ports.health, "/ready");
  ASSERT_TRUE(ready);
  EXPECT_NE(ready->body.find("storage unavailable"), std::string::npos) << ready->body;
  EXPECT_NE(ready->body.find("No space left on device"), std::string::npos) << ready->body;
  auto health = get(ports.health, "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << "liveness keeps answering";
  EXPECT_NE(health->body.find("read-only"), std::string::npos) << health->body;
  auto m = get(ports.metrics, "/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(metric_value(m->body, "telemetry_collector_store_writable"), 0.0);
  EXPECT_GE(metric_value(m->body, "telemetry_collector_store_write_errors_total"), 1.0);
  EXPECT_LT(metric_value(m->body, "telemetry_collector_disk_free_bytes"), 1 << 20);
  EXPECT_GE(metric_value(m->body, "telemetry_collector_disk_free_bytes"), 0.0);

  // Publishers back off while the store refuses: a few reconnects, not thousands.
  auto connections = [&] {
    auto s = get(ports.metrics, "/metrics");
    return s ? metric_value(s->body, "telemetry_collector_connections_total") : -1.0;
  };
  const double c0 = connections();
  std::this_thread::sleep_for(3s);
  const double c1 = connections();
  EXPECT_LE(c1 - c0, 8.0 * kProducers) << "reconnects in 3 s while storage was unavailable";
  const auto log_size = fs::file_size(log_path);
  EXPECT_LT(log_size, 1U << 20) << "the collector's log stays small while it refuses batches";

  // Space comes back: the store resumes by itself.
  fs::remove(disk.path() / "filler");
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = get(ports.health, "/ready");
        return r && r->status == 200;
      },
      20s))
      << slurp(log_path);
  const auto before = acked_batches.load();
  ASSERT_TRUE(wait_until([&] { return acked_batches.load() >= before + 20; }, 20s));
  stop = true;
  for (auto& t : threads) t.join();
  for (int p = 0; p < kProducers; ++p) {
    EXPECT_EQ(errors[p], "") << "producer " << p;
    EXPECT_GE(stats[p].storage_unavailable, 1u) << "producer " << p << " was told storage is unavailable";
    EXPECT_GE(stats[p].backoffs, 1u);
  }
  collector->signal(SIGTERM);
  EXPECT_EQ(collector->wait(30s), std::optional<int>(0)) << slurp(log_path);
  EXPECT_NE(slurp(log_path).find("store is writable again"), std::string::npos);

  // Every acknowledged sample is stored, exactly once, and nothing else.
  for (int p = 0; p < kProducers; ++p) {
    const auto stored = stored_timestamps(data / "collector-test", fmt::format("GPU-full-{}", p));
    EXPECT_EQ(stored.size(), acked[p].ts.size()) << "producer " << p;
    EXPECT_TRUE(stored == acked[p].ts) << "producer " << p << ": stored samples differ from acked ones";
  }
}

TEST(TelemetryFaults, a_collector_stopped_while_its_store_is_read_only_exits_non_zero_and_says_why) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting the small tmpfs needs root";
  ScratchDir scratch("read-only-stop");
  SmallDisk disk(scratch.path() / "disk", 4U << 20);
  if (disk.not_permitted()) GTEST_SKIP() << disk.error() << " (no CAP_SYS_ADMIN in this container)";
  ASSERT_TRUE(disk.error().empty()) << disk.error();
  CollectorPorts ports;
  const auto log_path = (scratch.path() / "collector.log").string();
  auto collector = start_collector(disk.path(), ports, {{"CHECKPOINT_ENABLED", "false"}}, log_path);
  ASSERT_TRUE(collector) << slurp(log_path);
  disk.fill(disk.path() / "filler");
  KnownPublisher known("GPU-ro", 2000);
  BrokerClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", ports.broker, "read-only-stop", 5s));
  ASSERT_TRUE(c.publish(1, known.batch(0)));
  auto r = c.read_ack(10s);
  ASSERT_FALSE(r) << "a batch is not acknowledged on a full disk";
  EXPECT_EQ(r.error().code, std::optional<ErrorCode>(ErrorCode::storage_unavailable)) << r.error().message;
  collector->signal(SIGTERM);
  EXPECT_EQ(collector->wait(30s), std::optional<int>(1));
  const auto log = slurp(log_path);
  EXPECT_NE(log.find("collector stopped with its store read-only"), std::string::npos) << log;
  EXPECT_EQ(log.find("collector stopped cleanly"), std::string::npos) << log;
}

}  // namespace
}  // namespace rm::telemetry::faults
