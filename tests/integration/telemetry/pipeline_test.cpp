// streamer -> collector -> gateway with the real DCGM export and with the seed's wide CSV.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>

#include "core/http.hpp"
#include "core/http_client.hpp"
#include "support/free_port.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
namespace http = rm::core::http;
using namespace std::chrono_literals;

namespace {

const fs::path kBin = RM_BINARY_DIR "/apps";
const fs::path kCsv = RM_SOURCE_DIR "/tests/data/dcgm_metrics_20250718_134233.csv";

using rm::test::free_port;

// A child process with its own environment; output goes to <dir>/<name>.log.
class Process {
 public:
  Process(const fs::path& exe, std::map<std::string, std::string> env, const fs::path& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      ::execl(exe.c_str(), exe.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Process() { stop(); }
  // Waits for exit; returns the exit status, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }
  int stop() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGTERM);
    int rc = wait(20s);
    if (rc == -1) {
      ::kill(pid_, SIGKILL);
      rc = wait(5s);
    }
    return rc;
  }

 private:
  pid_t pid_ = -1;
};

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Pipeline {
  fs::path dir;
  std::uint16_t broker = free_port(), health = free_port(), cmetrics = free_port();
  std::uint16_t api = free_port(), gmetrics = free_port();
  std::unique_ptr<Process> collector, gateway;

  explicit Pipeline(const std::string& name) {
    dir = fs::temp_directory_path() / ("rm-e2e-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "data");
  }
  ~Pipeline() {
    gateway.reset();
    collector.reset();
    if (!::testing::Test::HasFailure()) fs::remove_all(dir);
  }
  std::string logs() {
    std::string out;
    for (const char* n : {"collector.log", "gateway.log", "streamer.log"}) {
      if (fs::exists(dir / n)) out += std::string("--- ") + n + "\n" + slurp(dir / n);
    }
    return out;
  }
  void start_collector() {
    collector = std::make_unique<Process>(
        kBin / "telemetry-collector/telemetry-collector",
        std::map<std::string, std::string>{{"DATA_DIR", (dir / "data").string()},
                                           {"BROKER_PORT", std::to_string(broker)},
                                           {"HEALTH_PORT", std::to_string(health)},
                                           {"METRICS_PORT", std::to_string(cmetrics)},
                                           {"COLLECTOR_ID", "c0"},
                                           {"BIND", "127.0.0.1"},
                                           {"WORKERS", "2"}},
        dir / "collector.log");
    ASSERT_TRUE(wait_until(
        [&] {
          auto r = http::get("127.0.0.1", health, "/health", 500ms);
          return r && r->status == 200;
        },
        30s))
        << logs();
  }
  void start_gateway() {
    gateway = std::make_unique<Process>(
        kBin / "api-gateway/api-gateway",
        std::map<std::string, std::string>{{"DATA_DIR", (dir / "data").string()},
                                           {"PORT", std::to_string(api)},
                                           {"METRICS_PORT", std::to_string(gmetrics)},
                                           {"HOST", "127.0.0.1"},
                                           {"COLLECTOR_HOST", "127.0.0.1"},
                                           {"COLLECTOR_PORT", std::to_string(health)}},
        dir / "gateway.log");
    ASSERT_TRUE(wait_until([&] { return bool(http::get("127.0.0.1", api, "/health", 500ms)); }, 30s))
        << logs();
  }
  void stream(const fs::path& csv) {
    Process streamer(kBin / "telemetry-streamer/telemetry-streamer",
                     {{"CSV_FILE", csv.string()},
                      {"BROKER_HOST", "127.0.0.1"},
                      {"BROKER_PORT", std::to_string(broker)},
                      {"RATE", "0"},
                      {"WORKERS", "2"},
                      {"LOOPS", "1"}},
                     dir / "streamer.log");
    ASSERT_EQ(streamer.wait(120s), 0) << logs();
  }
  json::object get(const std::string& target, int status = 200) {
    auto r = http::get("127.0.0.1", api, target, 10s);
    EXPECT_TRUE(r) << target << ": " << (r ? "" : r.error());
    if (!r) return {};
    EXPECT_EQ(r->status, status) << target << ": " << r->body;
    return json::parse(r->body).as_object();
  }
  // Every point of a GPU, following next_cursor.
  std::vector<json::object> all_points(const std::string& id, const std::string& extra, int limit) {
    std::vector<json::object> out;
    std::string cursor;
    for (int page = 0; page < 10000; ++page) {
      std::string t =
          "/api/v1/gpus/" + http::percent_encode(id) + "/telemetry?limit=" + std::to_string(limit) + extra;
      if (!cursor.empty()) t += "&cursor=" + http::percent_encode(cursor);
      auto o = get(t);
      for (auto& p : o["points"].as_array()) out.push_back(p.as_object());
      if (o["next_cursor"].is_null()) break;
      cursor = std::string(o["next_cursor"].as_string());
    }
    return out;
  }
};

// UUIDs and hostnames straight from the file (fields 5 and 7 of the quoted DCGM rows).
void expected_from_csv(std::set<std::string>& uuids, std::set<std::string>& hosts) {
  std::ifstream in(kCsv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::size_t i = 1;
    for (int f = 0; f < 8; ++f) {
      auto j = line.find("\",\"", i);
      fields.push_back(line.substr(i, j - i));
      i = j + 3;
    }
    uuids.insert(fields[4]);
    hosts.insert(fields[6]);
  }
}

}  // namespace

TEST(TelemetryPipeline, dcgm_export_flows_from_streamer_through_collector_to_gateway) {
  ASSERT_TRUE(fs::exists(kCsv)) << kCsv;
  Pipeline p("dcgm");
  ASSERT_NO_FATAL_FAILURE(p.start_collector());
  ASSERT_NO_FATAL_FAILURE(p.start_gateway());
  ASSERT_NO_FATAL_FAILURE(p.stream(kCsv));

  std::set<std::string> uuids, hosts;
  expected_from_csv(uuids, hosts);
  ASSERT_EQ(uuids.size(), 247u);
  ASSERT_EQ(hosts.size(), 31u);

  // Every GPU by UUID and every host appear (the gateway follows DATA_DIR by polling).
  ASSERT_TRUE(wait_until([&] { return p.get("/api/v1/gpus")["count"].as_int64() == 247; }, 30s)) << p.logs();
  std::set<std::string> got;
  auto gpus = p.get("/api/v1/gpus");
  for (auto& g : gpus["gpus"].as_array()) {
    got.insert(std::string(g.at("uuid").as_string()));
    EXPECT_EQ(g.at("id"), g.at("uuid"));
    EXPECT_FALSE(g.at("hostname").as_string().empty());
  }
  EXPECT_EQ(got, uuids);
  std::set<std::string> got_hosts;
  auto host_list = p.get("/api/v1/hosts");
  for (auto& h : host_list["hosts"].as_array()) {
    got_hosts.insert(std::string(h.at("hostname").as_string()));
  }
  EXPECT_EQ(got_hosts, hosts);
  auto host_gpus = p.get("/api/v1/hosts/mtv5-dgx1-hgpu-031/gpus");
  EXPECT_EQ(host_gpus["count"].as_int64(), 8);

  // One GPU: each row is one datapoint, so 10 metrics once each.
  const std::string id = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";
  ASSERT_TRUE(wait_until([&] { return p.get("/api/v1/gpus/" + id)["samples"].as_int64() == 10; }, 30s));
  auto all = p.all_points(id, "", 10000);
  ASSERT_EQ(all.size(), 10u);
  for (std::size_t i = 1; i < all.size(); ++i) {
    EXPECT_LE(all[i - 1]["timestamp_ns"].as_int64(), all[i]["timestamp_ns"].as_int64());
  }
  // Pagination with a small page visits the same points in the same order.
  auto paged = p.all_points(id, "", 3);
  ASSERT_EQ(paged.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(paged[i], all[i]) << i;
  // An inclusive window from the 3rd to the 7th point's time holds exactly the points in it.
  auto lo = all[2]["timestamp"].as_string(), hi = all[6]["timestamp"].as_string();
  auto window = p.all_points(
      id, "&start_time=" + http::percent_encode(lo) + "&end_time=" + http::percent_encode(hi), 100);
  std::size_t expected = 0;
  for (auto& pt : all) {
    auto ts = pt["timestamp_ns"].as_int64();
    expected += ts >= all[2]["timestamp_ns"].as_int64() && ts <= all[6]["timestamp_ns"].as_int64();
  }
  EXPECT_EQ(window.size(), expected);
  EXPECT_GE(window.size(), 5u);
  // Metric filter and latest.
  auto util = p.all_points(id, "&metric=DCGM_FI_DEV_GPU_UTIL", 100);
  ASSERT_EQ(util.size(), 1u);
  EXPECT_EQ(util[0]["value"].to_number<double>(), 0.0);  // integral values are written as "0"
  EXPECT_EQ(p.get("/api/v1/gpus/" + id + "/latest")["metrics"].as_array().size(), 10u);

  // Errors.
  EXPECT_EQ(p.get("/api/v1/gpus/GPU-does-not-exist/telemetry", 404)["code"].as_int64(), 404);
  EXPECT_EQ(p.get("/api/v1/gpus/" + id +
                      "/telemetry?start_time=2025-07-18T21:00:00Z&end_time="
                      "2025-07-18T20:00:00Z",
                  400)["error"]
                .as_string(),
            "bad_time_range");
  EXPECT_EQ(p.get("/api/v1/gpus/" + id + "/telemetry?start_time=2025-07-18", 400)["error"].as_string(),
            "bad_time");
  EXPECT_EQ(p.get("/api/v1/gpus/" + id + "/telemetry?limit=100000", 400)["error"].as_string(), "bad_limit");

  // Prometheus views: DCGM names and labels; the gateway's own metrics on METRICS_PORT.
  auto prom = http::get("127.0.0.1", p.api, "/metrics/gpus");
  ASSERT_TRUE(prom);
  EXPECT_NE(prom->body.find("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"" + id +
                            "\",device=\"nvidia0\",modelName=\"NVIDIA H100 80GB HBM3\","
                            "Hostname=\"mtv5-dgx1-hgpu-031\"} 0\n"),
            std::string::npos);
  auto own = http::get("127.0.0.1", p.gmetrics, "/metrics");
  ASSERT_TRUE(own) << own.error();
  EXPECT_NE(own->body.find("api_gateway_gpus 247"), std::string::npos) << own->body;
  {
    auto file = p.dir / "gateway-metrics.txt";
    std::ofstream(file) << own->body;
    EXPECT_EQ(std::system(("promtool check metrics < " + file.string()).c_str()), 0);
  }

  // Health: collector ok; after the collector stops the gateway still serves and says so.
  EXPECT_EQ(p.get("/health")["collector"].as_string(), "ok");
  EXPECT_EQ(p.collector->stop(), 0) << p.logs();
  // The collector's health comes from a background probe (about once a second).
  EXPECT_TRUE(wait_until([&] { return p.get("/health")["collector"].as_string() == "unreachable"; }, 10s));
  auto h = p.get("/health");
  EXPECT_EQ(h["status"].as_string(), "ok");
  EXPECT_EQ(p.get("/api/v1/gpus")["count"].as_int64(), 247);
}

TEST(TelemetryPipeline, the_seeds_wide_csv_works_end_to_end) {
  Pipeline p("wide");
  auto csv = p.dir / "telemetry.csv";
  std::ofstream(csv) << "gpu_id,utilization,temperature,memory_used\n"
                        "gpu-001,85.5,72.3,4096\n"
                        "gpu-002,90.2,75.1,8192\n"
                        "gpu-003,45.0,65.0,2048\n";
  ASSERT_NO_FATAL_FAILURE(p.start_collector());
  ASSERT_NO_FATAL_FAILURE(p.start_gateway());
  ASSERT_NO_FATAL_FAILURE(p.stream(csv));
  ASSERT_TRUE(wait_until([&] { return p.get("/api/v1/gpus")["count"].as_int64() == 3; }, 30s)) << p.logs();
  ASSERT_TRUE(wait_until(
      [&] { return p.get("/api/v1/gpus/gpu-002/latest")["metrics"].as_array().size() == 3; }, 30s));
  std::map<std::string, double> latest;
  auto latest_doc = p.get("/api/v1/gpus/gpu-002/latest");
  for (auto& m : latest_doc["metrics"].as_array()) {
    latest[std::string(m.at("metric").as_string())] = m.at("value").as_double();
  }
  EXPECT_EQ(latest, (std::map<std::string, double>{
                        {"memory_used", 8192}, {"temperature", 75.1}, {"utilization", 90.2}}));
  auto pts = p.get("/api/v1/gpus/gpu-001/telemetry?metric=utilization");
  ASSERT_EQ(pts["points"].as_array().size(), 1u);
  EXPECT_EQ(pts["points"].as_array()[0].at("value").to_number<double>(), 85.5);
  p.get("/api/v1/gpus/gpu-004", 404);
}
