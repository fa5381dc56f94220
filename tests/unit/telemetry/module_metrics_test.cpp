// Each telemetry module registers its own metrics next to the code that counts: the store its
// fsync histogram, the broker its ACK latency histogram, the follower its gauges. Nothing in
// an app copies a value into them.
#include <cstdlib>
#include <sstream>

#include <gtest/gtest.h>

#include "core/metrics.hpp"
#include "store_util.hpp"
#include "support/telemetry_test_util.hpp"
#include "support/temp_dir.hpp"
#include "telemetry/ingest/broker.hpp"
#include "telemetry/storage/follower.hpp"
#include "telemetry/wire/client.hpp"

using namespace rm::telemetry;
using namespace std::chrono_literals;

namespace {

// The value of the sample line `name` (no labels) in an exposition; -1 when absent.
double value_of(const std::string& exposition, const std::string& name) {
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::strtod(line.c_str() + name.size() + 1, nullptr);
  }
  return -1;
}

}  // namespace

TEST(ModuleMetrics, the_store_observes_its_own_fdatasync_rounds_in_the_fsync_histogram) {
  rm::test::TempDir dir("rm-module-metrics");
  auto store = test::open_store(dir.path() / "c");
  rm::core::metrics::Registry registry;
  store->register_metrics(registry);
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_TRUE(test::submit_sync(
        *store, test::make_batch("p", seq, "GPU-1", 4, static_cast<std::int64_t>(seq) * 10)));
  }
  const std::string text = registry.expose();
  EXPECT_EQ(value_of(text, "telemetry_collector_batches_total"), 3.0);
  const double rounds = value_of(text, "telemetry_collector_fsync_seconds_count");
  EXPECT_GE(rounds, 1.0) << text;
  EXPECT_LE(rounds, 3.0) << text;  // one round per group commit, at most one per batch here
  store->close();
}

TEST(ModuleMetrics, the_broker_observes_one_ack_latency_per_acknowledged_batch) {
  rm::test::TempDir dir("rm-module-metrics");
  auto store = test::open_store(dir.path() / "c");
  BrokerOptions o;
  o.bind_address = "127.0.0.1";
  o.port = 0;
  o.threads = 1;
  BrokerServer broker(*store, o);
  rm::core::metrics::Registry registry;
  broker.register_metrics(registry);
  auto port = broker.start();
  ASSERT_TRUE(port) << port.error().message;
  BrokerClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", *port, "metrics-producer", 5s));
  GpuInfo g;
  g.id = "GPU-m";
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    ASSERT_TRUE(c.publish(seq, {OutSample{&g, "DCGM_FI_DEV_GPU_UTIL", static_cast<std::int64_t>(seq), 1.0}}));
    auto a = c.read_ack(10s);
    ASSERT_TRUE(a && *a);
  }
  const std::string text = registry.expose();
  EXPECT_EQ(value_of(text, "telemetry_collector_acks_total"), 5.0) << text;
  EXPECT_EQ(value_of(text, "telemetry_collector_ack_latency_seconds_count"), 5.0) << text;
  c.close();
  broker.stop();
  store->close();
}

TEST(ModuleMetrics, the_follower_registers_its_gpu_and_record_gauges_itself) {
  rm::test::TempDir dir("rm-module-metrics");
  {
    auto store = test::open_store(dir.path() / "collector-a");
    ASSERT_TRUE(test::submit_sync(*store, test::make_batch("p", 1, "GPU-1", 2, 100)));
    ASSERT_TRUE(test::submit_sync(*store, test::make_batch("p", 2, "GPU-2", 2, 200)));
    store->close();
  }
  FollowerOptions fo;
  fo.data_dir = dir.path();
  auto follower = std::make_shared<DataDirFollower>(fo);
  follower->poll_once();
  rm::core::metrics::Registry registry;
  DataDirFollower::register_metrics(follower, registry);
  const std::string text = registry.expose();
  EXPECT_EQ(value_of(text, "api_gateway_gpus"), 2.0) << text;
  EXPECT_GT(value_of(text, "api_gateway_follower_records_read"), 0.0) << text;
  EXPECT_EQ(value_of(text, "api_gateway_follower_rebuilds_total"), 0.0) << text;
}
