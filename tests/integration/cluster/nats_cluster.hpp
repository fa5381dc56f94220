#pragma once
// A real 3-node NATS JetStream cluster for tests: three nats-server processes on 127.0.0.1
// free ports (client + route each), routes to each other, each with its own store directory.
// Nodes can be killed with SIGKILL and restarted on the same ports and store.
#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nats/nats.h>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "../ingest/process.hpp"
#include "core/http_client.hpp"
#include "telemetry/model.hpp"

namespace rm::telemetry::test {

inline std::uint64_t json_u64(const boost::json::value& v) {
  return v.to_number<std::uint64_t>();
}

// Where node i runs: its address and, when set, the network namespace it is started in
// (netns.hpp); by default every node on 127.0.0.1 in the test's own namespace.
struct NatsPlacement {
  std::array<std::string, 3> host{"127.0.0.1", "127.0.0.1", "127.0.0.1"};
  std::array<std::string, 3> netns{};
  std::string ip_command;  // `ip`, to run `ip netns exec <ns> nats-server ...`
};

class NatsCluster {
 public:
  static constexpr int kNodes = 3;
  // `start_nodes` false: ports are chosen (url() is valid) but no server runs until start(i).
  explicit NatsCluster(std::filesystem::path dir, bool start_nodes = true, NatsPlacement where = {})
      : dir_(std::move(dir)), where_(std::move(where)) {
    for (auto& n : nodes_) {
      n.client = free_port();
      n.route = free_port();
      n.monitor = free_port();
    }
    if (start_nodes) {
      for (int i = 0; i < kNodes; ++i) start(i);
    }
  }

  void start(int i) {
    auto& n = nodes_[static_cast<std::size_t>(i)];
    const std::string& host = where_.host[static_cast<std::size_t>(i)];
    std::string routes;
    for (int k = 0; k < kNodes; ++k) {
      routes +=
          fmt::format("{}nats://{}:{}", routes.empty() ? "" : ",", where_.host[static_cast<std::size_t>(k)],
                      nodes_[static_cast<std::size_t>(k)].route);
    }
    std::vector<std::string> args{"-js",
                                  "-sd",
                                  (dir_ / fmt::format("n{}", i)).string(),
                                  "-a",
                                  host,
                                  "-p",
                                  std::to_string(n.client),
                                  "-m",
                                  std::to_string(n.monitor),
                                  "-n",
                                  fmt::format("n{}", i),
                                  "--cluster_name",
                                  "rmtest",
                                  "--cluster",
                                  fmt::format("nats://{}:{}", host, n.route),
                                  "--routes",
                                  routes,
                                  "-l",
                                  (dir_ / fmt::format("n{}.log", i)).string()};
    std::string exe = RM_NATS_SERVER;
    if (const auto& ns = where_.netns[static_cast<std::size_t>(i)]; !ns.empty()) {
      args.insert(args.begin(), {"netns", "exec", ns, exe});
      exe = where_.ip_command;
    }
    n.proc =
        std::make_unique<Process>(exe, std::move(args), std::vector<std::pair<std::string, std::string>>{});
  }
  void kill(int i) {
    auto& n = nodes_[static_cast<std::size_t>(i)];
    n.proc->signal(SIGKILL);
    (void)n.proc->wait(std::chrono::seconds(10));
    n.proc.reset();
  }
  // SIGSTOP/SIGCONT: the node stays connected but goes silent, as when its network is cut
  // (peers and clients see no reset, only missing answers and heartbeats).
  void freeze(int i) { nodes_[static_cast<std::size_t>(i)].proc->signal(SIGSTOP); }
  void thaw(int i) { nodes_[static_cast<std::size_t>(i)].proc->signal(SIGCONT); }
  std::string url() const {
    std::string s;
    for (int i = 0; i < kNodes; ++i) s += fmt::format("{}{}", s.empty() ? "" : ",", url(i));
    return s;
  }
  std::string url(int i) const {
    return fmt::format("nats://{}:{}", where_.host[static_cast<std::size_t>(i)],
                       nodes_[static_cast<std::size_t>(i)].client);
  }
  int index_of(const std::string& name) const {
    return name.size() == 2 && name[0] == 'n' ? name[1] - '0' : -1;
  }

  // Waits until every node answers /healthz?js-enabled-only=true... and the cluster has a
  // JetStream meta leader (checked through /jsz on each node).
  bool wait_ready(std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int ok = 0;
      for (int i = 0; i < kNodes; ++i) {
        auto r = core::http::get(where_.host[static_cast<std::size_t>(i)],
                                 nodes_[static_cast<std::size_t>(i)].monitor, "/jsz",
                                 std::chrono::milliseconds(500));
        if (!r || r->status != 200) continue;
        auto j = boost::json::parse(r->body).as_object();
        if (j.contains("meta_cluster") && j.at("meta_cluster").as_object().contains("leader")) ++ok;
      }
      if (ok == kNodes) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  struct Node {
    std::uint16_t client = 0, route = 0, monitor = 0;
    std::unique_ptr<Process> proc;
  };
  std::filesystem::path dir_;
  NatsPlacement where_;
  std::array<Node, kNodes> nodes_;
};

// Cluster-mode programs (NATS_URL set), their ports and what they report.
struct Service {
  std::unique_ptr<Process> proc;
  std::uint16_t port = 0;  // collector: health; gateway: API
  std::uint16_t metrics = 0;
  std::string out;  // stdout file (streamer summary)
};

inline bool wait_http_ok(std::uint16_t port, const std::string& path, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = core::http::get("127.0.0.1", port, path, std::chrono::milliseconds(500));
    if (r && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// `log` (optional): the file its stderr (the log) goes to.
inline Service start_nats_collector(const std::string& url, const std::string& id,
                                    const std::string& log = {}) {
  Service s;
  s.port = free_port();
  s.metrics = free_port();
  s.proc = std::make_unique<Process>(
      bin("telemetry-collector"), std::vector<std::string>{},
      std::vector<std::pair<std::string, std::string>>{{"NATS_URL", url},
                                                       {"COLLECTOR_ID", id},
                                                       {"HEALTH_PORT", std::to_string(s.port)},
                                                       {"METRICS_PORT", std::to_string(s.metrics)},
                                                       {"BIND", "127.0.0.1"}},
      std::string(), log);
  if (!wait_http_ok(s.port, "/ready", std::chrono::seconds(60))) s.proc.reset();
  return s;
}

inline Service start_nats_gateway(const std::string& url,
                                  std::vector<std::pair<std::string, std::string>> env = {}) {
  Service s;
  s.port = free_port();
  s.metrics = free_port();
  env.insert(env.end(), {{"NATS_URL", url},
                         {"PORT", std::to_string(s.port)},
                         {"METRICS_PORT", std::to_string(s.metrics)},
                         {"HOST", "127.0.0.1"}});
  s.proc =
      std::make_unique<Process>(bin("api-gateway"), std::vector<std::string>{}, std::move(env), "/dev/null");
  if (!wait_http_ok(s.port, "/health", std::chrono::seconds(60))) s.proc.reset();
  return s;
}

// One streamer instance of `count`, one worker, `loops` passes at `rate` rows/s, batches of
// 500 samples (so an unpaced pass over the DCGM export is many batches, not one).
inline Service start_nats_streamer(const std::string& url, const std::filesystem::path& dir,
                                   const std::string& csv, int index, int count, int loops, double rate) {
  Service s;
  static int serial = 0;
  s.out = (dir / fmt::format("streamer-{}-{}of{}.json", serial++, index, count)).string();
  s.proc = std::make_unique<Process>(
      bin("telemetry-streamer"), std::vector<std::string>{},
      std::vector<std::pair<std::string, std::string>>{{"NATS_URL", url},
                                                       {"CSV_FILE", csv},
                                                       {"WORKERS", "1"},
                                                       {"BATCH_SIZE", "500"},  // many batches
                                                       {"RATE", fmt::format("{}", rate)},
                                                       {"LOOPS", std::to_string(loops)},
                                                       {"INSTANCE_INDEX", std::to_string(index)},
                                                       {"INSTANCE_COUNT", std::to_string(count)}},
      s.out);
  return s;
}

// Publishes one message to a JetStream subject with a de-duplication id and waits for the ack;
// `producer` null leaves out the Rm-Producer header.
// A plain client connection to one node with a JetStream context, for publishing or fetching by
// hand; `js` is null when either step failed (tests assert on it). close() drops both, in order.
struct JetStreamClient {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  explicit JetStreamClient(const std::string& url) {
    if (natsConnection_ConnectTo(&nc, url.c_str()) == NATS_OK &&
        natsConnection_JetStream(&js, nc, nullptr) != NATS_OK)
      js = nullptr;
  }
  JetStreamClient(const JetStreamClient&) = delete;
  JetStreamClient& operator=(const JetStreamClient&) = delete;
  ~JetStreamClient() { close(); }
  void close() {
    if (js != nullptr) jsCtx_Destroy(js);
    js = nullptr;
    if (nc != nullptr) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
    nc = nullptr;
  }
};

// A GPU for hand-made batches: id and uuid `id`, device nvidia<index>, an H100 on host "h".
inline rm::telemetry::GpuInfo test_gpu(const std::string& id, int index = 0) {
  return {.id = id,
          .uuid = id,
          .gpu_index = std::to_string(index),
          .device = "nvidia" + std::to_string(index),
          .model = "H100",
          .hostname = "h"};
}

inline natsStatus publish_raw(jsCtx* js, const char* subject, const std::string& data, const char* producer,
                              const std::string& id) {
  natsMsg* m = nullptr;
  natsMsg_Create(&m, subject, nullptr, data.data(), static_cast<int>(data.size()));
  if (producer) natsMsgHeader_Set(m, "Rm-Producer", producer);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id.c_str();
  jsPubAck* pa = nullptr;
  const natsStatus st = js_PublishMsg(&pa, js, m, &po, nullptr);
  jsPubAck_Destroy(pa);
  natsMsg_Destroy(m);
  return st;
}

// The HTTP status and body of a GET (status 0 when nothing answered).
inline std::pair<int, std::string> get_status(std::uint16_t port, const std::string& path) {
  auto r = core::http::get("127.0.0.1", port, path, std::chrono::milliseconds(3000));
  if (!r) return {0, {}};
  return {r->status, r->body};
}

inline boost::json::object get_json(std::uint16_t port, const std::string& path) {
  auto r = core::http::get("127.0.0.1", port, path, std::chrono::milliseconds(3000));
  if (!r || r->status != 200) return {};
  return boost::json::parse(r->body).as_object();
}

// The real DCGM export every cluster test streams: 247 GPUs, 10 rows (samples) each.
inline const std::string kDcgmCsv =
    std::string(RM_SOURCE_DIR) + "/tests/data/dcgm_metrics_20250718_134233.csv";
constexpr std::uint64_t kDcgmGpus = 247;
constexpr std::uint64_t kDcgmRows = 2470;

// A field of the JSON summary line a streamer prints when it exits (0 when it printed none).
inline std::uint64_t summary_field(const Service& s, const char* field) {
  std::ifstream in(s.out);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty() && line.front() == '{') last = line;
  }
  if (last.empty()) return 0;
  return json_u64(boost::json::parse(last).as_object().at(field));
}

// Samples acknowledged to a streamer that exited.
inline std::uint64_t acked_samples(const Service& s) {
  return summary_field(s, "acked_samples");
}

// Waits for every streamer to exit 0; the samples acknowledged to all of them.
inline std::uint64_t wait_streamers(std::vector<Service>& streamers) {
  std::uint64_t acked = 0;
  for (auto& s : streamers) {
    EXPECT_EQ(s.proc->wait(std::chrono::seconds(120)), 0) << s.out;
    acked += acked_samples(s);
  }
  return acked;
}

// Sum of the samples a gateway holds over all GPUs.
inline std::uint64_t api_total(std::uint16_t gateway_port) {
  auto j = get_json(gateway_port, "/api/v1/gpus");
  if (!j.contains("gpus")) return 0;
  std::uint64_t n = 0;
  for (const auto& g : j.at("gpus").as_array()) n += json_u64(g.as_object().at("samples"));
  return n;
}

// A stream's field as the collector's /stats reports it (leader, messages, replicas), or null.
inline boost::json::value stream_field(std::uint16_t collector_port, const char* stream, const char* field) {
  auto j = get_json(collector_port, "/stats");
  if (!j.contains("streams") || !j.at("streams").as_object().contains(stream)) return nullptr;
  const auto& o = j.at("streams").at(stream).as_object();
  return o.contains(field) ? o.at(field) : boost::json::value(nullptr);
}

inline std::uint64_t work_queue_messages(std::uint16_t collector_port) {
  const auto n = stream_field(collector_port, "TELEMETRY_IN", "messages");
  return n.is_null() ? UINT64_MAX : json_u64(n);
}

// Waits until the work queue is drained and the gateway holds `expected` samples (or the
// timeout passes), then once more after a second so late duplicates would show; returns the
// gateway's total.
inline std::uint64_t settled_total(std::uint16_t gateway_port, std::uint16_t collector_port,
                                   std::uint64_t expected,
                                   std::chrono::seconds timeout = std::chrono::seconds(90)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (work_queue_messages(collector_port) == 0 && api_total(gateway_port) >= expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (std::chrono::steady_clock::now() >= deadline) {
    std::printf("not settled: work queue %llu, gateway %llu of %llu; collector: %s\n",
                static_cast<unsigned long long>(work_queue_messages(collector_port)),
                static_cast<unsigned long long>(api_total(gateway_port)),
                static_cast<unsigned long long>(expected),
                boost::json::serialize(get_json(collector_port, "/stats")).c_str());
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  return api_total(gateway_port);
}

}  // namespace rm::telemetry::test
