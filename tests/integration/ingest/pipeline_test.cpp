// streamer -> broker -> collector -> DATA_DIR, checked through the read-only follower.
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "process.hpp"
#include "support/telemetry_test_util.hpp"
#include "telemetry/storage/follower.hpp"
#include "telemetry/storage/wal.hpp"

using namespace rm::telemetry;
using namespace rm::telemetry::test;
using namespace std::chrono_literals;

namespace {
const std::string kCsv = std::string(RM_SOURCE_DIR) + "/tests/data/dcgm_metrics_20250718_134233.csv";

std::uint64_t total_samples(const TelemetryView& v) {
  std::uint64_t n = 0;
  for (const auto& g : v.gpus()) n += g.samples;
  return n;
}

bool promtool_accepts(const std::string& text, const std::filesystem::path& dir) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) return true;  // checked in CI image
  const auto f = dir / "metrics.txt";
  std::ofstream(f) << text;
  return std::system(fmt::format("promtool check metrics < {} >/dev/null 2>&1", f.string()).c_str()) == 0;
}
}  // namespace

TEST(IngestPipeline, all_247_gpus_and_31_hosts_of_the_real_csv_land_in_the_store) {
  TempDir data;
  CollectorPorts ports;
  auto collector = start_collector(data.path(), ports);
  ASSERT_TRUE(collector);
  // Two streamer instances split the rows; each has two workers.
  std::vector<std::unique_ptr<Process>> streamers;
  for (int i = 0; i < 2; ++i) {
    streamers.push_back(std::make_unique<Process>(
        bin("telemetry-streamer"), std::vector<std::string>{"--loops", "1"},
        std::vector<std::pair<std::string, std::string>>{{"CSV_FILE", kCsv},
                                                         {"BROKER_HOST", "127.0.0.1"},
                                                         {"BROKER_PORT", std::to_string(ports.broker)},
                                                         {"RATE", "0"},
                                                         {"WORKERS", "2"},
                                                         {"INSTANCE_INDEX", std::to_string(i)},
                                                         {"INSTANCE_COUNT", "2"}},
        (data.path() / fmt::format("streamer{}.json", i)).string()));
  }
  for (auto& s : streamers) EXPECT_EQ(s->wait(60s), 0);

  auto health = rm::core::http::get("127.0.0.1", ports.health, "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto stats = rm::core::http::get("127.0.0.1", ports.health, "/stats");
  ASSERT_TRUE(stats);
  auto js = boost::json::parse(stats->body).as_object();
  EXPECT_EQ(js.at("samples").to_number<std::uint64_t>(), 2470u);
  EXPECT_EQ(js.at("gpus").to_number<std::uint64_t>(), 247u);
  auto metrics = rm::core::http::get("127.0.0.1", ports.metrics, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("telemetry_collector_fsync_seconds_bucket"), std::string::npos);
  EXPECT_TRUE(promtool_accepts(metrics->body, data.path()));

  DataDirFollower live({.data_dir = data.path(), .max_entries = 10000});
  live.poll_once();
  EXPECT_EQ(live.gpus().size(), 247u);
  EXPECT_EQ(live.hosts().size(), 31u);
  EXPECT_EQ(total_samples(live), 2470u);  // instances and workers did not overlap
  for (const auto& g : live.gpus()) {
    EXPECT_EQ(g.samples, 10u) << g.info.id;
    EXPECT_EQ(g.info.id.rfind("GPU-", 0), 0u);
  }

  collector->signal(SIGTERM);
  EXPECT_EQ(collector->wait(30s), 0);
  // After a clean stop everything is in the final checkpoint.
  DataDirFollower after({.data_dir = data.path(), .max_entries = 10000});
  after.poll_once();
  EXPECT_EQ(after.gpus().size(), 247u);
  EXPECT_EQ(total_samples(after), 2470u);
  EXPECT_FALSE(list_checkpoints(data.path() / "collector-test").empty());
}

TEST(IngestPipeline, the_seeds_wide_csv_streams_one_sample_per_metric_column) {
  TempDir data;
  const auto csv = data.path() / "telemetry.csv";
  std::ofstream(csv) << "gpu_id,utilization,temperature,memory_used\n"
                        "gpu-001,85.5,72.3,4096\n"
                        "gpu-002,90.2,75.1,8192\n"
                        "gpu-003,45.0,65.0,2048\n";
  CollectorPorts ports;
  auto collector = start_collector(data.path() / "data", ports);
  ASSERT_TRUE(collector);
  Process streamer(bin("telemetry-streamer"), {"--loops", "2", "--rate", "100"},
                   {{"CSV_FILE", csv.string()},
                    {"BROKER_HOST", "127.0.0.1"},
                    {"BROKER_PORT", std::to_string(ports.broker)}},
                   (data.path() / "out.json").string());
  EXPECT_EQ(streamer.wait(60s), 0);
  DataDirFollower f({.data_dir = data.path() / "data", .max_entries = 100});
  f.poll_once();
  ASSERT_EQ(f.gpus().size(), 3u);
  auto latest = f.latest("gpu-001");
  ASSERT_EQ(latest.size(), 3u);
  EXPECT_EQ(latest[0].metric, "memory_used");
  EXPECT_DOUBLE_EQ(latest[0].value, 4096);
  EXPECT_EQ(f.gpu("gpu-002")->samples, 6u);
}

TEST(IngestPipeline, bad_configuration_is_refused_with_the_variable_named) {
  TempDir data;
  Process p(bin("telemetry-collector"), {}, {{"WORKERS", "abc"}, {"DATA_DIR", data.path().string()}},
            (data.path() / "out.txt").string());
  EXPECT_EQ(p.wait(20s), 2);
  Process s(bin("telemetry-streamer"), {}, {{"CSV_FILE", "/nonexistent.csv"}, {"BROKER_PORT", "1"}});
  EXPECT_EQ(s.wait(20s), 1);
}

TEST(IngestPipeline, sigterm_makes_the_streamer_flush_everything_it_sent_and_exit_0) {
  TempDir data;
  CollectorPorts ports;
  auto collector = start_collector(data.path() / "data", ports);
  ASSERT_TRUE(collector);
  const auto out = data.path() / "streamer.json";
  Process streamer(
      bin("telemetry-streamer"), {"--rate", "200", "--batch-size", "50"},
      {{"CSV_FILE", kCsv}, {"BROKER_HOST", "127.0.0.1"}, {"BROKER_PORT", std::to_string(ports.broker)}},
      out.string());
  // Streams forever (LOOPS=0) until told to stop.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = rm::core::http::get("127.0.0.1", ports.health, "/stats");
    if (s && boost::json::parse(s->body).as_object().at("samples").to_number<std::uint64_t>() > 100) break;
    std::this_thread::sleep_for(20ms);
  }
  streamer.signal(SIGTERM);
  ASSERT_EQ(streamer.wait(30s), 0);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  auto js = boost::json::parse(line).as_object();
  EXPECT_GT(js.at("rows").to_number<std::uint64_t>(), 0u);
  EXPECT_EQ(js.at("acked_samples").to_number<std::uint64_t>(), js.at("samples").to_number<std::uint64_t>());
  auto stats = rm::core::http::get("127.0.0.1", ports.health, "/stats");
  ASSERT_TRUE(stats);
  EXPECT_EQ(boost::json::parse(stats->body).as_object().at("samples").to_number<std::uint64_t>(),
            js.at("acked_samples").to_number<std::uint64_t>());
}
