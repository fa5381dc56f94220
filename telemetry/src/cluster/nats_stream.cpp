// NATS connection, configuration from the environment, and the two telemetry streams.
#include <thread>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/log.hpp"
#include "nats_client.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("telemetry.nats");
}
constexpr std::int64_t kNs = 1'000'000'000;
}  // namespace

std::string NatsConfig::urls() const {
  return fmt::format("{}", fmt::join(servers, ","));
}

void nats_shutdown() {
  nats_CloseAndWait(2000);
}

std::string nats_msg_id(const std::string& producer, std::uint64_t seq) {
  return fmt::format("{}:{}", producer, seq);
}

Result<std::optional<NatsConfig>> nats_config_from_env() {
  const std::string url = core::env_string("NATS_URL", "");
  if (url.empty()) return std::optional<NatsConfig>{};
  NatsConfig c;
  std::size_t pos = 0;
  while (pos <= url.size()) {
    const std::size_t comma = std::min(url.find(',', pos), url.size());
    std::string s = url.substr(pos, comma - pos);
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    while (!s.empty() && s.back() == ' ') s.pop_back();
    if (!s.empty()) {
      if (s.find("://") == std::string::npos) s = "nats://" + s;
      if (s.rfind("nats://", 0) != 0 && s.rfind("tls://", 0) != 0) {
        return telemetry_error(TelemetryErrc::invalid_argument,
                               fmt::format("NATS_URL entry '{}' must look like nats://host:4222", s));
      }
      c.servers.push_back(s);
    }
    pos = comma + 1;
  }
  if (c.servers.empty())
    return telemetry_error(TelemetryErrc::invalid_argument,
                           fmt::format("NATS_URL='{}' names no server", url));
  c.stream = core::env_string("NATS_STREAM", c.stream);
  c.subject = core::env_string("NATS_SUBJECT", c.subject);
  c.consumer = core::env_string("NATS_CONSUMER", c.consumer);
  for (const auto* name : {&c.stream, &c.consumer}) {
    if (name->empty() || name->find_first_of(" .*>/\\") != std::string::npos) {
      return telemetry_error(
          TelemetryErrc::invalid_argument,
          fmt::format(
              "NATS_STREAM/NATS_CONSUMER '{}' must be non-empty without spaces, '.', '*', '>' or slashes",
              *name));
    }
  }
  if (c.subject.empty() || c.subject.find_first_of(" *>") != std::string::npos) {
    return telemetry_error(TelemetryErrc::invalid_argument,
                           fmt::format("NATS_SUBJECT='{}' must be a plain subject prefix", c.subject));
  }
  auto num = [](const char* name, long long def, long long lo, long long hi) -> Result<long long> {
    auto v = core::env_int(name, def, lo, hi);
    if (!v) return telemetry_error(TelemetryErrc::invalid_argument, v.error().message);
    return *v;
  };
  auto rep = num("NATS_REPLICAS", 3, 1, 5);
  auto mb = num("NATS_MAX_BYTES", 1LL << 30, 1 << 20, 1LL << 50);
  auto age = num("NATS_MAX_AGE_S", 86400, 1, 1LL << 32);
  auto dup = num("NATS_DUPLICATE_WINDOW_S", 120, 1, 86400);
  auto ack = num("NATS_ACK_WAIT_MS", 3000, 100, 3600000);
  auto fetch = num("NATS_FETCH", 64, 1, 4096);
  auto pub_timeout = num("NATS_PUBLISH_TIMEOUT_MS", 2000, 50, 600000);
  auto window = num("NATS_PUBLISH_WINDOW", 8, 1, 1024);
  for (const auto* r : {&rep, &mb, &age, &dup, &ack, &fetch, &pub_timeout, &window}) {
    if (!*r) return tl::unexpected(r->error());
  }
  c.replicas = static_cast<int>(*rep);
  c.max_bytes = *mb;
  c.max_age_s = *age;
  c.duplicate_window_s = *dup;
  c.ack_wait_ms = *ack;
  c.fetch = static_cast<int>(*fetch);
  c.publish_timeout_ms = *pub_timeout;
  c.publish_window = static_cast<int>(*window);
  return std::optional<NatsConfig>{std::move(c)};
}

namespace nats {

std::string status_text(natsStatus s, jsErrCode e) {
  std::string t = natsStatus_GetText(s);
  if (e != 0) t += fmt::format(" (JetStream error {})", static_cast<int>(e));
  return t;
}

Result<std::unique_ptr<Client>> Client::connect(const NatsConfig& cfg, const std::string& name,
                                                std::chrono::milliseconds timeout) {
  std::unique_ptr<Client> c(new Client(cfg));
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK)
    return telemetry_error(TelemetryErrc::unavailable, std::string("cannot create NATS options"));
  std::vector<const char*> urls;
  for (const auto& s : cfg.servers) urls.push_back(s.c_str());
  natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  natsOptions_SetName(opts, name.c_str());
  natsOptions_SetTimeout(opts, 2000);
  natsOptions_SetMaxReconnect(opts, -1);
  natsOptions_SetReconnectWait(opts, 100);
  natsOptions_SetPingInterval(opts, 1000);
  natsOptions_SetMaxPingsOut(opts, 2);
  natsOptions_SetReconnectBufSize(opts, 64 << 20);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  natsStatus s = NATS_OK;
  while (true) {
    s = natsConnection_Connect(&c->nc_, opts);
    if (s == NATS_OK || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    return telemetry_error(
        TelemetryErrc::unavailable,
        fmt::format("cannot connect to NATS at {}: {}; check NATS_URL and that the servers run", cfg.urls(),
                    status_text(s)));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  auto js = c->context(jo);
  if (!js) return tl::unexpected(js.error());
  c->js_ = std::move(*js);
  return c;
}

Client::~Client() {
  js_.reset();
  if (nc_) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
}

Result<JsPtr> Client::context(jsOptions& opts) const {
  jsCtx* js = nullptr;
  if (auto s = natsConnection_JetStream(&js, nc_, &opts); s != NATS_OK) {
    return telemetry_error(TelemetryErrc::unavailable,
                           fmt::format("cannot create a JetStream context: {}", status_text(s)));
  }
  return JsPtr(js);
}

namespace {

struct StreamSpec {
  std::string name, subject;
  jsRetentionPolicy retention;
  jsDiscardPolicy discard;
  std::int64_t max_age_ns;
};

const char* retention_name(jsRetentionPolicy r) {
  switch (r) {
    case js_LimitsPolicy:
      return "limits";
    case js_InterestPolicy:
      return "interest";
    case js_WorkQueuePolicy:
      return "workqueue";
  }
  return "?";
}

// Compares an existing stream with the spec; an error names the differing setting.
Status check_stream(const jsStreamConfig& have, const StreamSpec& want, int replicas) {
  const bool subject_ok = have.SubjectsLen == 1 && want.subject == have.Subjects[0];
  if (!subject_ok) {
    return telemetry_error(
        TelemetryErrc::invalid_argument,
        fmt::format(
            "stream {} exists with other subjects than '{}'; delete it or set NATS_STREAM/NATS_SUBJECT",
            want.name, want.subject));
  }
  if (have.Retention != want.retention) {
    return telemetry_error(
        TelemetryErrc::invalid_argument,
        fmt::format("stream {} exists with retention {}, expected {}; delete it or set NATS_STREAM",
                    want.name, retention_name(have.Retention), retention_name(want.retention)));
  }
  if (have.Replicas != replicas) {
    return telemetry_error(
        TelemetryErrc::invalid_argument,
        fmt::format("stream {} exists with {} replica(s) but NATS_REPLICAS={}; set NATS_REPLICAS to match or "
                    "change the stream",
                    want.name, have.Replicas, replicas));
  }
  return {};
}

bool retryable(natsStatus s, jsErrCode e) {
  return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_CLOSED ||
         s == NATS_CONNECTION_DISCONNECTED || e == JSClusterNotAvailErr || e == JSClusterNoPeersErr ||
         e == JSInsufficientResourcesErr || (s == NATS_ERR && e == 0);
}

}  // namespace

Status Client::ensure_streams(std::chrono::milliseconds timeout) {
  const StreamSpec specs[] = {
      {cfg_.in_stream(), cfg_.in_subject(), js_WorkQueuePolicy, js_DiscardNew, 0},
      {cfg_.applied_stream(), cfg_.applied_subject(), js_LimitsPolicy, js_DiscardOld, cfg_.max_age_s * kNs},
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& spec : specs) {
    std::string last;
    while (true) {
      jsStreamInfo* si = nullptr;
      jsErrCode e = static_cast<jsErrCode>(0);
      natsStatus s = js_GetStreamInfo(&si, js_.get(), spec.name.c_str(), nullptr, &e);
      if (s == NATS_OK) {
        auto ok = check_stream(*si->Config, spec, cfg_.replicas);
        jsStreamInfo_Destroy(si);
        if (!ok) return ok;
        break;
      }
      if (s == NATS_NOT_FOUND || e == JSStreamNotFoundErr) {
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        const char* subjects[] = {spec.subject.c_str()};
        sc.Name = spec.name.c_str();
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Retention = spec.retention;
        sc.Discard = spec.discard;
        sc.Storage = js_FileStorage;
        sc.Replicas = cfg_.replicas;
        sc.MaxBytes = cfg_.max_bytes;
        sc.MaxAge = spec.max_age_ns;
        sc.Duplicates = cfg_.duplicate_window_s * kNs;
        s = js_AddStream(&si, js_.get(), &sc, nullptr, &e);
        if (s == NATS_OK) {
          log()->info("created stream {} (subject {}, {}, {} replica(s), max {} bytes)", spec.name,
                      spec.subject, retention_name(spec.retention), cfg_.replicas, cfg_.max_bytes);
          jsStreamInfo_Destroy(si);
          break;
        }
        if (e == JSStreamNameExistErr) continue;  // another process created it meanwhile: check it
      }
      last = status_text(s, e);
      if (!retryable(s, e)) {
        return telemetry_error(TelemetryErrc::unavailable, fmt::format("stream {}: {}", spec.name, last));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return telemetry_error(
            TelemetryErrc::timeout,
            fmt::format("stream {} not available within {} ms: {}; is JetStream enabled (-js) and has the "
                        "cluster a quorum?",
                        spec.name, timeout.count(), last));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  return {};
}

Status Client::ensure_consumer(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string stream = cfg_.in_stream();
  while (true) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode e = static_cast<jsErrCode>(0);
    natsStatus s = js_GetConsumerInfo(&ci, js_.get(), stream.c_str(), cfg_.consumer.c_str(), nullptr, &e);
    if (s == NATS_OK) {
      jsConsumerInfo_Destroy(ci);
      return {};
    }
    if (s == NATS_NOT_FOUND || e == JSConsumerNotFoundErr) {
      jsConsumerConfig cc;
      jsConsumerConfig_Init(&cc);
      cc.Durable = cfg_.consumer.c_str();
      cc.AckPolicy = js_AckExplicit;
      cc.AckWait = cfg_.ack_wait_ms * 1'000'000;
      cc.MaxDeliver = -1;
      cc.MaxAckPending = 100000;
      cc.MaxWaiting = 512;
      cc.FilterSubject = nullptr;
      s = js_AddConsumer(&ci, js_.get(), stream.c_str(), &cc, nullptr, &e);
      if (s == NATS_OK) {
        log()->info("created durable consumer {} on {} (ack wait {} ms)", cfg_.consumer, stream,
                    cfg_.ack_wait_ms);
        jsConsumerInfo_Destroy(ci);
        return {};
      }
      if (e == JSConsumerNameExistErr) continue;
    }
    if (!retryable(s, e) || std::chrono::steady_clock::now() > deadline) {
      return telemetry_error(
          retryable(s, e) ? TelemetryErrc::timeout : TelemetryErrc::unavailable,
          fmt::format("durable consumer {} on stream {}: {}", cfg_.consumer, stream, status_text(s, e)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

Result<StreamState> Client::stream_state(const std::string& name) const {
  jsStreamInfo* si = nullptr;
  jsErrCode e = static_cast<jsErrCode>(0);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 1000;
  if (auto s = js_GetStreamInfo(&si, js_.get(), name.c_str(), &jo, &e); s != NATS_OK) {
    return telemetry_error(TelemetryErrc::unavailable, fmt::format("stream {}: {}", name, status_text(s, e)));
  }
  StreamState st;
  st.name = name;
  st.messages = si->State.Msgs;
  st.bytes = si->State.Bytes;
  st.last_seq = si->State.LastSeq;
  if (si->Cluster) {
    if (si->Cluster->Leader) st.leader = si->Cluster->Leader;
    for (int i = 0; i < si->Cluster->ReplicasLen; ++i) {
      const jsPeerInfo* p = si->Cluster->Replicas[i];
      st.replicas.push_back({p->Name ? p->Name : "", p->Current, p->Offline, p->Lag});
    }
  }
  jsStreamInfo_Destroy(si);
  return st;
}

}  // namespace nats
}  // namespace rm::telemetry
