// The gateway under bad input and faults: a missing or empty DATA_DIR, a hung collector,
// unknown query parameters, HEAD, metric names that collide after sanitising, stale GPUs.
#include <netinet/in.h>
#include <signal.h>

#include <atomic>

#include "fault_util.hpp"
#include "integration/ingest/process.hpp"
#include "support/silent_server.hpp"

namespace rm::telemetry::faults {
namespace {

using test::free_port;
using test::Process;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct GatewayProc {
  std::uint16_t port = free_port(), metrics = free_port();
  fs::path log;
  std::unique_ptr<Process> proc;
  GatewayProc(const fs::path& data_dir, const fs::path& log_path, std::uint16_t collector_port = 1)
      : log(log_path) {
    proc = std::make_unique<Process>(
        test::bin("api-gateway"), std::vector<std::string>{},
        std::vector<std::pair<std::string, std::string>>{{"DATA_DIR", data_dir.string()},
                                                         {"PORT", std::to_string(port)},
                                                         {"METRICS_PORT", std::to_string(metrics)},
                                                         {"HOST", "127.0.0.1"},
                                                         {"COLLECTOR_HOST", "127.0.0.1"},
                                                         {"COLLECTOR_PORT", std::to_string(collector_port)}},
        (log_path.string() + ".out"), log_path.string());
  }
  bool wait_up() {
    return wait_until([&] { return bool(core::http::get("127.0.0.1", port, "/health", 1s)); }, 20s);
  }
  tl::expected<core::http::ClientResponse, std::string> get(const std::string& path) const {
    return core::http::get("127.0.0.1", port, path, 5s);
  }
  ~GatewayProc() {
    if (proc) {
      proc->signal(SIGTERM);
      proc->wait(10s);
    }
  }
};

tl::expected<Ack, StoreError> submit_sync(Store& s, Batch b) {
  std::promise<tl::expected<Ack, StoreError>> p;
  auto f = p.get_future();
  s.submit(std::move(b), [&p](tl::expected<Ack, StoreError> r) { p.set_value(std::move(r)); });
  return f.get();
}

Batch batch_of(const std::string& gpu, std::uint64_t seq, std::int64_t ts, std::vector<std::string> metrics) {
  Batch b;
  b.producer = "gw-test";
  b.seq = seq;
  auto g = std::make_shared<GpuInfo>();
  g->id = gpu;
  g->uuid = gpu;
  g->gpu_index = "0";
  g->hostname = "host-gw";
  b.gpus.push_back(g);
  b.metrics = std::move(metrics);
  for (std::uint32_t m = 0; m < b.metrics.size(); ++m) b.samples.push_back({0, m, ts, 1.0 + m});
  return b;
}

TEST(TelemetryFaults, the_gateway_on_a_missing_data_dir_exits_non_zero_naming_the_path) {
  ScratchDir scratch("gw-missing");
  const fs::path missing = scratch.path() / "no-such-dir";
  GatewayProc gw(missing, scratch.path() / "gateway.log");
  EXPECT_EQ(gw.proc->wait(20s), std::optional<int>(1));
  EXPECT_NE(slurp(gw.log).find(missing.string()), std::string::npos) << slurp(gw.log);
  gw.proc.reset();
}

TEST(TelemetryFaults, the_gateway_on_an_empty_data_dir_is_live_but_not_ready_until_a_store_appears) {
  ScratchDir scratch("gw-empty");
  const fs::path data = scratch.path() / "data";
  fs::create_directories(data);
  GatewayProc gw(data, scratch.path() / "gateway.log");
  ASSERT_TRUE(gw.wait_up()) << slurp(gw.log);
  auto ready = gw.get("/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_NE(ready->body.find("no store yet"), std::string::npos) << ready->body;
  EXPECT_EQ(gw.get("/health")->status, 200);
  StoreOptions so;
  so.dir = data / "collector-a";
  so.checkpoints = false;
  auto store = Store::open(so);
  ASSERT_TRUE(store);
  ASSERT_TRUE(submit_sync(**store, batch_of("GPU-late", 1, now_ns(), {"DCGM_FI_DEV_GPU_UTIL"})));
  EXPECT_TRUE(wait_until(
      [&] {
        auto r = gw.get("/ready");
        return r && r->status == 200;
      },
      20s));
  EXPECT_TRUE(wait_until(
      [&] {
        auto r = gw.get("/api/v1/gpus/GPU-late");
        return r && r->status == 200;
      },
      20s));
  (*store)->close();
}

// A collector that accepts connections and never answers.
using HungCollector = rm::test::SilentServer;

TEST(TelemetryFaults, a_hung_collector_does_not_hold_up_gateway_requests) {
  ScratchDir scratch("gw-hung");
  fs::create_directories(scratch.path() / "data");
  HungCollector hung;
  GatewayProc gw(scratch.path() / "data", scratch.path() / "gateway.log", hung.port());
  ASSERT_TRUE(gw.wait_up()) << slurp(gw.log);
  const int before = hung.accepted();
  for (int i = 0; i < 30; ++i) {
    auto h = gw.get("/health");
    ASSERT_TRUE(h) << h.error();
    EXPECT_EQ(h->status, 200);
    EXPECT_NE(h->body.find("\"collector\":\"unreachable\""), std::string::npos) << h->body;
    ASSERT_TRUE(gw.get("/api/v1/gpus"));
  }
  // 60 requests, answered from the probe's cached result: the collector was asked only by the
  // background probe (about once a second), not once per request.
  EXPECT_LE(hung.accepted() - before, 10) << "requests to the collector during 60 gateway requests";
}

class GatewayOverData : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(data_);
    StoreOptions so;
    so.dir = data_ / "collector-a";
    so.checkpoints = false;
    auto store = Store::open(so);
    ASSERT_TRUE(store);
    const auto now = now_ns();
    ASSERT_TRUE(submit_sync(**store, batch_of("GPU-fresh", 1, now, {"a.b", "a_b", "DCGM_FI_DEV_GPU_UTIL"})));
    ASSERT_TRUE(submit_sync(**store, batch_of("GPU-gone", 2, now - std::int64_t{3600} * 1'000'000'000,
                                              {"DCGM_FI_DEV_GPU_UTIL"})));
    (*store)->close();
    gw_ = std::make_unique<GatewayProc>(data_, scratch_.path() / "gateway.log");
    ASSERT_TRUE(gw_->wait_up()) << slurp(gw_->log);
    ASSERT_TRUE(wait_until(
        [&] {
          auto r = gw_->get("/api/v1/gpus");
          return r && r->body.find("GPU-gone") != std::string::npos;
        },
        20s));
  }
  ScratchDir scratch_{"gw-data"};
  fs::path data_ = scratch_.path() / "data";
  std::unique_ptr<GatewayProc> gw_;
};

TEST_F(GatewayOverData, an_unknown_query_parameter_is_a_400_naming_it) {
  auto r = gw_->get("/api/v1/gpus/GPU-fresh/telemetry?limt=5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("unknown query parameter 'limt'"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("start_time, end_time, metric, limit, cursor"), std::string::npos) << r->body;
  auto none = gw_->get("/api/v1/gpus?verbose=1");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 400);
  EXPECT_NE(none->body.find("no query parameters"), std::string::npos) << none->body;
  EXPECT_EQ(gw_->get("/api/v1/gpus/GPU-fresh/telemetry?limit=5")->status, 200);
  // The OpenAPI document says so for every route.
  auto doc = gw_->get("/openapi.json");
  ASSERT_TRUE(doc);
  EXPECT_NE(doc->body.find("Unknown query parameter"), std::string::npos);
}

TEST_F(GatewayOverData, head_answers_with_the_content_length_of_the_get) {
  auto get = gw_->get("/api/v1/gpus");
  ASSERT_TRUE(get);
  auto head = core::http::fetch("127.0.0.1", gw_->port, "HEAD", "/api/v1/gpus", 5s);
  ASSERT_TRUE(head) << head.error();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(head->header("content-length"), std::to_string(get->body.size()));
}

TEST_F(GatewayOverData, metric_names_that_collide_after_sanitising_get_distinct_series) {
  auto r = gw_->get("/metrics/gpus");
  ASSERT_TRUE(r);
  std::set<std::string> series;
  std::istringstream in(r->body);
  int a_b_lines = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto key = line.substr(0, line.rfind(' '));
    EXPECT_TRUE(series.insert(key).second) << "duplicate series: " << key;
    if (line.rfind("a_b{", 0) == 0) ++a_b_lines;
  }
  EXPECT_EQ(a_b_lines, 2);
  EXPECT_NE(r->body.find("metric=\"a.b\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("metric=\"a_b\""), std::string::npos) << r->body;
}

TEST_F(GatewayOverData, a_gpu_silent_past_the_staleness_window_is_dropped_from_the_scrape) {
  auto r = gw_->get("/metrics/gpus");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("GPU-fresh"), std::string::npos);
  EXPECT_EQ(r->body.find("GPU-gone"), std::string::npos) << r->body;
  // Still listed by the REST API, which is history, not a scrape.
  EXPECT_NE(gw_->get("/api/v1/gpus")->body.find("GPU-gone"), std::string::npos);
}

TEST_F(GatewayOverData, the_metrics_port_has_process_metrics_and_the_followers_own_gauges) {
  auto m = core::http::get("127.0.0.1", gw_->metrics, "/metrics", 5s);
  ASSERT_TRUE(m) << m.error();
  ASSERT_EQ(m->status, 200);
  EXPECT_GT(metric_value(m->body, "process_open_fds"), 0) << m->body;
  EXPECT_GT(metric_value(m->body, "process_resident_memory_bytes"), 0) << m->body;
  EXPECT_GT(metric_value(m->body, "process_start_time_seconds"), 1.7e9) << m->body;
  EXPECT_EQ(metric_value(m->body, "api_gateway_gpus"), 2.0) << m->body;
  EXPECT_GT(metric_value(m->body, "api_gateway_follower_records_read"), 0) << m->body;
  EXPECT_EQ(metric_value(m->body, "api_gateway_follower_rebuilds_total"), 0) << m->body;
}

}  // namespace
}  // namespace rm::telemetry::faults
