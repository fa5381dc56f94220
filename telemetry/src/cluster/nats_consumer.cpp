// telemetry-collector in cluster mode (NATS_URL set): a worker of the shared durable pull
// consumer on the work-queue stream. For every fetched batch it
//   1. decodes and validates it (a malformed batch is terminated, logged with its producer and
//      stream sequence, and counted: a retry would not fix it);
//   2. publishes it to the applied stream with the batch's own Nats-Msg-Id (asynchronously, all
//      batches of one fetch at once) and waits until JetStream acknowledged each of them;
//   3. only then acknowledges the fetched batches on the work queue.
// A collector killed between 2 and 3 leaves its batches unacknowledged: after AckWait the
// server redelivers them to another collector, whose publish in step 2 is answered as a
// duplicate, so each batch is in the applied stream once. A failed step 2 naks the batches
// (redelivered at once). Collectors hold no state, so they are added and removed freely.
// A batch the applied stream answers "duplicate" for is compared with the work-queue stream
// leader's copy of its sequence (STREAM.MSG.GET) before it is acknowledged: a replica of
// nats-server 2.9.10 was seen delivering other, already applied batches at a sequence after a
// network cut (docs/decisions.md). If the leader's copy differs, it is applied instead.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/http.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/shutdown.hpp"
#include "nats_client.hpp"
#include "nats_collector.hpp"
#include "telemetry/cluster/batch_codec.hpp"

namespace rm::telemetry {

namespace {
auto log() {
  return core::logger("telemetry.collector.nats");
}

struct Counters {
  std::atomic<std::uint64_t> fetched{0}, batches{0}, samples{0}, duplicates{0}, bad{0}, redelivered{0},
      publish_failures{0}, acked{0}, naked{0}, replica_mismatches{0};
};

// Results of one fetch's async publishes, filled in by the library's ack handler thread.
struct PendingAcks {
  std::atomic<std::uint64_t> ok{0}, dup{0}, failed{0};
  std::mutex mu;                     // guards why and dup_ids
  std::string why;                   // the last failure, for the log
  std::vector<std::string> dup_ids;  // Nats-Msg-Id of each batch answered "duplicate"
};

void on_pub_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* p = static_cast<PendingAcks*>(closure);
  if (pae != nullptr || pa == nullptr) {
    {
      std::lock_guard lk(p->mu);
      p->why = pae != nullptr ? nats::status_text(pae->Err, pae->ErrCode) +
                                    (pae->ErrText ? std::string(": ") + pae->ErrText : std::string())
                              : std::string("no acknowledgement");
    }
    p->failed++;
  } else if (pa->Duplicate) {
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) {
      std::lock_guard lk(p->mu);
      p->dup_ids.emplace_back(id);
    }
    p->dup++;
  } else {
    p->ok++;
  }
  natsMsg_Destroy(msg);
}

// Decodes one work-queue message into a batch (batch_codec.hpp).
Result<Batch> decode_message(natsMsg* m) {
  const char* producer = nullptr;
  if (natsMsgHeader_Get(m, "Rm-Producer", &producer) != NATS_OK || producer == nullptr || *producer == '\0') {
    return telemetry_error(TelemetryErrc::protocol, "no Rm-Producer header");
  }
  return decode_cluster_batch(
      std::string_view(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))), producer);
}

class Applier {
 public:
  Applier(nats::Client& client, Counters& c, core::metrics::Histogram& latency)
      : client_(client), c_(c), latency_(latency) {}

  [[nodiscard]] Status start() {
    const auto& cfg = client_.config();
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = on_pub_ack;
    jo.PublishAsync.AckHandlerClosure = &pending_;
    jo.PublishAsync.MaxPending = 4 * cfg.fetch + 16;
    auto js = client_.context(jo);
    if (!js) return tl::unexpected(js.error());
    js_ = std::move(*js);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    const std::string stream = cfg.in_stream();
    so.Stream = stream.c_str();
    so.Consumer = cfg.consumer.c_str();
    jsErrCode e = static_cast<jsErrCode>(0);
    if (auto s = js_PullSubscribe(&sub_, client_.js(), cfg.in_subject().c_str(), cfg.consumer.c_str(),
                                  nullptr, &so, &e);
        s != NATS_OK) {
      return telemetry_error(
          TelemetryErrc::unavailable,
          fmt::format("cannot bind to consumer {} of {}: {}", cfg.consumer, stream, nats::status_text(s, e)));
    }
    return {};
  }
  std::string last_failure() {
    std::lock_guard lk(pending_.mu);
    return pending_.why.empty() ? std::string("publish error") : pending_.why;
  }
  ~Applier() {
    if (sub_) natsSubscription_Destroy(sub_);
  }
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  // One fetch and everything it brought; false when nothing came within `wait`.
  bool step(std::chrono::milliseconds wait) {
    const auto& cfg = client_.config();
    natsMsgList list{nullptr, 0};
    jsErrCode e = static_cast<jsErrCode>(0);
    const natsStatus s = natsSubscription_Fetch(&list, sub_, cfg.fetch, wait.count(), &e);
    if (list.Count == 0) {
      natsMsgList_Destroy(&list);
      if (s != NATS_OK && s != NATS_TIMEOUT) {
        log()->warn("fetch from {}: {}", cfg.consumer, nats::status_text(s, e));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return false;
    }
    const auto t0 = std::chrono::steady_clock::now();
    c_.fetched += static_cast<std::uint64_t>(list.Count);
    pending_.ok = 0;
    pending_.dup = 0;
    pending_.failed = 0;
    {
      std::lock_guard lk(pending_.mu);
      pending_.dup_ids.clear();
    }
    std::vector<natsMsg*> valid;
    std::vector<std::pair<std::string, std::uint64_t>> ids;  // of valid: Nats-Msg-Id, stream sequence
    std::uint64_t samples = 0;
    int submit_failures = 0;
    const std::string subject = cfg.applied_subject();
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* m = list.Msgs[i];
      jsMsgMetaData* meta = nullptr;
      std::uint64_t stream_seq = 0;
      if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        stream_seq = meta->Sequence.Stream;
        if (meta->NumDelivered > 1) c_.redelivered++;
        jsMsgMetaData_Destroy(meta);
      }
      auto b = decode_message(m);
      if (!b) {
        c_.bad++;
        log()->error("work-queue message {} is not a valid batch ({}); terminated, not retried", stream_seq,
                     b.error().message);
        natsMsg_Term(m, nullptr);
        continue;
      }
      natsMsg* out = nullptr;
      natsMsg_Create(&out, subject.c_str(), nullptr, natsMsg_GetData(m), natsMsg_GetDataLength(m));
      natsMsgHeader_Set(out, "Rm-Producer", b->producer.c_str());
      const std::string id = nats_msg_id(b->producer, b->seq);
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MsgId = id.c_str();
      if (js_PublishMsgAsync(js_.get(), &out, &po) != NATS_OK) {
        natsMsg_Destroy(out);
        ++submit_failures;
      }
      samples += b->samples.size();
      valid.push_back(m);
      ids.emplace_back(id, stream_seq);
    }
    jsPubOptions wait_opts;
    jsPubOptions_Init(&wait_opts);
    wait_opts.MaxWait = cfg.publish_timeout_ms;
    natsStatus done = valid.empty() ? NATS_OK : js_PublishAsyncComplete(js_.get(), &wait_opts);
    if (done != NATS_OK) {
      natsMsgList left{nullptr, 0};
      if (js_PublishAsyncGetPendingList(&left, js_.get()) == NATS_OK) natsMsgList_Destroy(&left);
    }
    const bool ok = done == NATS_OK && submit_failures == 0 && pending_.failed == 0;
    std::vector<std::string> dups;
    if (ok) {
      std::lock_guard lk(pending_.mu);
      dups.swap(pending_.dup_ids);
    }
    std::uint64_t held_back = 0;  // duplicates whose check against the leader's copy failed
    for (std::size_t i = 0; i < valid.size(); ++i) {
      natsMsg* m = valid[i];
      const bool dup = ok && std::find(dups.begin(), dups.end(), ids[i].first) != dups.end();
      if (ok && (!dup || check_duplicate(m, ids[i].second))) {
        natsMsg_Ack(m, nullptr);
      } else {
        natsMsg_Nak(m, nullptr);
        if (ok) ++held_back;
      }
    }
    c_.naked += held_back;
    if (ok) {
      c_.acked += valid.size() - held_back;
      c_.batches += pending_.ok.load();
      c_.duplicates += pending_.dup.load();
      c_.samples += samples;
      latency_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } else {
      c_.naked += valid.size();
      c_.publish_failures++;
      log()->warn("{} batch(es) not confirmed by the applied stream ({}); returned for redelivery",
                  valid.size(), done != NATS_OK ? nats::status_text(done) : last_failure());
    }
    natsMsgList_Destroy(&list);
    return true;
  }

 private:
  // A batch the applied stream already holds: true when the work-queue stream leader's copy of
  // `stream_seq` is the delivered batch (a genuine duplicate: a redelivery, a retry) or differs
  // and has now been applied itself; false (nak: redelivered, checked again) when the leader
  // cannot be asked or the repair was not confirmed.
  bool check_duplicate(natsMsg* delivered, std::uint64_t stream_seq) {
    const auto& cfg = client_.config();
    if (stream_seq == 0) return true;  // no metadata: nothing to compare with (not seen)
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = cfg.publish_timeout_ms;
    natsMsg* leader = nullptr;
    jsErrCode e = static_cast<jsErrCode>(0);
    const std::string stream = cfg.in_stream();
    if (auto s = js_GetMsg(&leader, client_.js(), stream.c_str(), stream_seq, &jo, &e); s != NATS_OK) {
      if (s == NATS_NOT_FOUND || e == JSNoMessageFoundErr) return true;  // acked meanwhile: nothing to apply
      log()->warn(
          "cannot compare batch at {} sequence {} with the stream leader's copy ({}); returned for "
          "redelivery",
          stream, stream_seq, nats::status_text(s, e));
      return false;
    }
    const auto bytes = [](natsMsg* m) {
      return std::string_view(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    };
    const auto producer = [](natsMsg* m) {
      const char* p = nullptr;
      return natsMsgHeader_Get(m, "Rm-Producer", &p) == NATS_OK && p ? std::string(p) : std::string();
    };
    bool confirmed = true;
    if (bytes(leader) == bytes(delivered) && producer(leader) == producer(delivered)) {
      log()->debug("{} sequence {}: a duplicate, the same batch as the stream leader's copy", stream,
                   stream_seq);
    } else {
      c_.replica_mismatches++;
      auto b = decode_message(leader);
      const std::string had = producer(delivered);
      if (!b) {
        log()->error(
            "{} sequence {}: the delivered batch (of '{}') differs from the stream leader's copy, "
            "which is not a valid batch ({}); the delivered one stays applied",
            stream, stream_seq, had, b.error().message);
      } else {
        const std::string id = nats_msg_id(b->producer, b->seq);
        log()->error(
            "{} sequence {}: the delivered batch (of '{}', already applied) differs from the stream "
            "leader's copy {} ({} samples); applying the leader's copy",
            stream, stream_seq, had, id, b->samples.size());
        natsMsg* out = nullptr;
        natsMsg_Create(&out, cfg.applied_subject().c_str(), nullptr, natsMsg_GetData(leader),
                       natsMsg_GetDataLength(leader));
        natsMsgHeader_Set(out, "Rm-Producer", b->producer.c_str());
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = id.c_str();
        po.MaxWait = cfg.publish_timeout_ms;
        jsPubAck* pa = nullptr;
        if (auto s = js_PublishMsg(&pa, client_.js(), out, &po, &e); s != NATS_OK) {
          log()->warn("applying the leader's copy {}: {}; returned for redelivery", id,
                      nats::status_text(s, e));
          confirmed = false;
        } else {
          if (!pa->Duplicate) {
            c_.batches++;
            c_.samples += b->samples.size();
          }
          jsPubAck_Destroy(pa);
        }
        natsMsg_Destroy(out);
      }
    }
    natsMsg_Destroy(leader);
    return confirmed;
  }

  nats::Client& client_;
  Counters& c_;
  core::metrics::Histogram& latency_;
  nats::JsPtr js_;
  natsSubscription* sub_ = nullptr;
  PendingAcks pending_;
};

boost::json::object stream_json(const nats::Client& client, const std::string& name) {
  boost::json::object o;
  auto st = client.stream_state(name);
  if (!st) {
    o["error"] = st.error().message;
    return o;
  }
  o["messages"] = st->messages;
  o["bytes"] = st->bytes;
  o["last_seq"] = st->last_seq;
  o["leader"] = st->leader;
  boost::json::array reps;
  for (const auto& r : st->replicas) {
    reps.push_back({{"name", r.name}, {"current", r.current}, {"offline", r.offline}, {"lag", r.lag}});
  }
  o["replicas"] = std::move(reps);
  return o;
}
}  // namespace

int run_nats_collector(const CollectorConfig& cfg) {
  namespace http = core::http;
  namespace metrics = core::metrics;
  const NatsConfig& nc = *cfg.nats;
  std::atomic<bool> ready{false};
  std::atomic<nats::Client*> client_ptr{nullptr};
  Counters c;
  metrics::Registry registry;
  auto& apply_hist = registry
                         .histogram("telemetry_collector_apply_seconds",
                                    "Time from fetching batches to their confirmation by the applied stream.",
                                    {}, {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})
                         .labels({});
  const std::pair<const char*, std::atomic<std::uint64_t>*> counters[] = {
      {"telemetry_collector_nats_batches", &c.batches},
      {"telemetry_collector_nats_samples", &c.samples},
      {"telemetry_collector_nats_duplicate_batches", &c.duplicates},
      {"telemetry_collector_nats_bad_batches", &c.bad},
      {"telemetry_collector_nats_redelivered_batches", &c.redelivered},
      {"telemetry_collector_nats_nak_batches", &c.naked},
      {"telemetry_collector_nats_replica_mismatch_batches", &c.replica_mismatches},
  };
  for (const auto& counter : counters) {
    auto* value = counter.second;  // a named copy: clang 14 cannot capture a structured binding
    registry.gauge_callback(counter.first, "Cluster mode counter (see docs/cluster.md).",
                            [value] { return static_cast<double>(value->load()); });
  }
  registry.gauge_callback("telemetry_collector_ready", "1 once bound to the durable consumer.",
                          [&] { return ready ? 1.0 : 0.0; });

  http::Router router;
  router.get("/health", [&](const http::Request&) {
    return http::json_response(
        200,
        {{"status", "ok"}, {"collector_id", cfg.collector_id}, {"ready", ready.load()}, {"mode", "nats"}});
  });
  router.get("/ready", [&](const http::Request&) {
    if (!ready) return http::error_response(503, "not bound to the JetStream consumer yet", "not ready");
    return http::json_response(200, {{"status", "ready"}});
  });
  router.get("/stats", [&](const http::Request&) {
    boost::json::object o{{"collector_id", cfg.collector_id},
                          {"mode", "nats"},
                          {"ready", ready.load()},
                          {"fetched", c.fetched.load()},
                          {"batches", c.batches.load()},
                          {"samples", c.samples.load()},
                          {"duplicate_batches", c.duplicates.load()},
                          {"bad_batches", c.bad.load()},
                          {"redelivered", c.redelivered.load()},
                          {"acked", c.acked.load()},
                          {"naked", c.naked.load()},
                          {"replica_mismatches", c.replica_mismatches.load()}};
    if (auto* cl = client_ptr.load()) {
      o["streams"] = {{nc.in_stream(), stream_json(*cl, nc.in_stream())},
                      {nc.applied_stream(), stream_json(*cl, nc.applied_stream())}};
    }
    return http::json_response(200, o);
  });
  http::Server health(std::move(router), {.host = cfg.bind, .port = cfg.health_port, .threads = 1});
  if (auto r = health.start(); !r) {
    log()->error("health server: {}; set HEALTH_PORT to a free port", r.error());
    return 1;
  }
  auto metrics_server = metrics::serve(registry, cfg.bind, cfg.metrics_port);
  if (!metrics_server) {
    log()->error("metrics server: {}; set METRICS_PORT to a free port", metrics_server.error());
    return 1;
  }
  int rc = 0;
  {
    auto client = nats::Client::connect(nc, cfg.collector_id, std::chrono::seconds(30));
    Status setup =
        client ? (*client)->ensure_streams(std::chrono::seconds(30)) : tl::unexpected(client.error());
    if (setup) setup = (*client)->ensure_consumer(std::chrono::seconds(30));
    std::unique_ptr<Applier> applier;
    if (setup) {
      applier = std::make_unique<Applier>(**client, c, apply_hist);
      setup = applier->start();
    }
    if (!setup) {
      log()->error("{}", setup.error().message);
      rc = 1;
    } else {
      client_ptr = client->get();
      ready = true;
      log()->info("collector '{}' ready (cluster mode): consumer {} on {} via {}, health :{}",
                  cfg.collector_id, nc.consumer, nc.in_stream(), nc.urls(), health.port());
      while (!core::Shutdown::requested()) applier->step(std::chrono::milliseconds(500));
      log()->info("shutting down: the batch in hand is finished, nothing else is fetched");
      ready = false;
      client_ptr = nullptr;
    }
  }
  health.stop();
  (*metrics_server)->stop();
  nats_shutdown();
  return rc;
}

}  // namespace rm::telemetry
