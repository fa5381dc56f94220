#pragma once
// Cluster mode on NATS JetStream (docs/cluster.md). Setting NATS_URL switches the streamer,
// the collector and the gateway from the embedded broker to two JetStream streams:
//
//   <NATS_STREAM>_IN  subject <NATS_SUBJECT>.in       work queue: streamers publish batches,
//                                                     collectors share them through one durable
//                                                     pull consumer (explicit ack, AckWait)
//   <NATS_STREAM>     subject <NATS_SUBJECT>.applied  limits: batches a collector validated, in
//                                                     stream order; every gateway reads all of
//                                                     it with its own ordered consumer
//
// Both streams use Nats-Msg-Id "<producer>:<seq>", so a publish retried after a lost ack and a
// batch re-applied after a collector died are each stored once (within the duplicate window).
//
// Configuration (environment):
//   NATS_URL                  nats://h1:4222,nats://h2:4222 (comma-separated); unset = embedded
//   NATS_STREAM (TELEMETRY)   stream name (the work queue is <name>_IN)
//   NATS_SUBJECT (telemetry)  subject prefix
//   NATS_REPLICAS (3)         replicas of both streams and the durable consumer
//   NATS_MAX_BYTES (1 GiB)    per stream; the work queue refuses new batches when full
//                             (publishers retry), the applied stream drops its oldest
//   NATS_MAX_AGE_S (86400)    age limit of the applied stream
//   NATS_DUPLICATE_WINDOW_S (120)  de-duplication window of both streams
//   NATS_ACK_WAIT_MS (3000)   a collector's unacknowledged batches are redelivered after this
//   NATS_CONSUMER (collectors)     durable consumer name shared by all collectors
//   NATS_FETCH (64)           batches a collector pulls per request
//   NATS_PUBLISH_TIMEOUT_MS (2000)  a publish not acknowledged within this is retried (same id)
//   NATS_PUBLISH_WINDOW (8)   batches a streamer worker has unacknowledged at most (async)
// and the streamer's BATCH_SIZE defaults to kNatsDefaultBatchSize in cluster mode.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/error.hpp"

namespace rm::telemetry {

// Samples per streamer batch when NATS_URL is set and BATCH_SIZE is not (docs/benchmarks.md:
// at 1 M samples/s through R3, 1000-sample batches do not keep up, 10000 give the lowest ack
// and row -> queryable latency).
inline constexpr int kNatsDefaultBatchSize = 10000;

struct NatsConfig {
  std::vector<std::string> servers;
  std::string stream = "TELEMETRY";
  std::string subject = "telemetry";
  int replicas = 3;
  std::int64_t max_bytes = 1LL << 30;
  std::int64_t max_age_s = 86400;
  std::int64_t duplicate_window_s = 120;
  std::int64_t ack_wait_ms = 3000;
  std::string consumer = "collectors";
  int fetch = 64;
  std::int64_t publish_timeout_ms = 2000;
  int publish_window = 8;

  std::string in_stream() const { return stream + "_IN"; }
  std::string in_subject() const { return subject + ".in"; }
  std::string applied_stream() const { return stream; }
  std::string applied_subject() const { return subject + ".applied"; }
  std::string urls() const;  // comma-joined, for logs
};

// nullopt when NATS_URL is unset or empty (embedded broker mode). A bad value is an
// invalid_argument error that names the variable.
[[nodiscard]] Result<std::optional<NatsConfig>> nats_config_from_env();

// Releases the NATS library's threads and memory; call once at exit of a program that used it.
void nats_shutdown();

// The de-duplication id of a batch: unique per (producer, seq).
std::string nats_msg_id(const std::string& producer, std::uint64_t seq);

}  // namespace rm::telemetry
