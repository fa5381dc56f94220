#pragma once
// The broker wire protocol (docs/broker-protocol.md): length-prefixed binary frames over TCP.
//
//   frame = u32 length (LE, bytes that follow) | u8 type | payload
//
// HELLO (client -> broker)  u32 version, str producer_id [, str token (BROKER_TOKEN)]
// PUBLISH (client)          u64 seq, gpu defs, metric defs, samples (refs interned per connection)
// ACK (broker)              u64 seq, u8 status (0 stored, 1 duplicate) -- sent once durable
// CREDIT (broker)           u32 grant: more batches the client may have in flight
// ERROR (broker)            u16 code, u64 seq (0 = none), str message; the broker then closes
//
// Decoding never trusts a length: frames above the limit, unknown types, refs out of range and
// truncated payloads are errors (values, not exceptions). The decoder is incremental and gives
// the same frames however the byte stream is split.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/model.hpp"

namespace rm::telemetry {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::size_t kDefaultMaxFrame = 16U << 20;

enum class FrameType : std::uint8_t { hello = 1, publish = 2, ack = 3, credit = 4, error = 5 };

enum class ErrorCode : std::uint16_t {
  bad_frame = 1,
  unsupported_version = 2,
  hello_required = 3,
  credit_exceeded = 4,
  frame_too_large = 5,
  storage_failure = 6,
  shutting_down = 7,
  bad_batch = 8,
  storage_unavailable = 9,    // the store is read-only (disk full, I/O error); retry later
  unauthorized = 10,          // HELLO without the broker's shared token
  bad_timestamp = 11,         // a sample's timestamp is outside the accepted range
  too_many_connections = 12,  // the broker is at its connection cap; retry later
};
const char* to_string(ErrorCode c);

struct ProtocolError {
  ErrorCode code;
  std::string message;
};

struct Frame {
  FrameType type;
  std::string payload;
};

class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame = kDefaultMaxFrame) : max_frame_(max_frame) {}
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next complete frame, nullopt if more bytes are needed, or an error (after which the
  // stream is unusable).
  [[nodiscard]] tl::expected<std::optional<Frame>, ProtocolError> next();
  std::size_t buffered() const { return buf_.size() - pos_; }
  void set_max_frame(std::size_t max_frame) { max_frame_ = max_frame; }

 private:
  std::size_t max_frame_;
  std::string buf_;
  std::size_t pos_ = 0;
};

void encode_frame(std::string& out, FrameType type, std::string_view payload);

struct Hello {
  std::uint32_t version = kProtocolVersion;
  std::string producer_id;
  std::string token;  // sent only when non-empty
};
struct Ack {
  std::uint64_t seq = 0;
  bool duplicate = false;
};
struct ErrorFrame {
  ErrorCode code = ErrorCode::bad_frame;
  std::uint64_t seq = 0;
  std::string message;
};

void encode_hello(std::string& out, const Hello& h);
void encode_ack(std::string& out, const Ack& a);
void encode_credit(std::string& out, std::uint32_t grant);
void encode_error(std::string& out, const ErrorFrame& e);
[[nodiscard]] tl::expected<Hello, ProtocolError> decode_hello(std::string_view payload);
[[nodiscard]] tl::expected<Ack, ProtocolError> decode_ack(std::string_view payload);
[[nodiscard]] tl::expected<std::uint32_t, ProtocolError> decode_credit(std::string_view payload);
[[nodiscard]] tl::expected<ErrorFrame, ProtocolError> decode_error(std::string_view payload);

// A decoded PUBLISH: self-contained (GPU and metric refs index this batch's own tables).
struct Batch {
  struct Item {
    std::uint32_t gpu = 0;
    std::uint32_t metric = 0;
    std::int64_t timestamp_ns = 0;
    double value = 0;
  };
  std::string producer;
  std::uint64_t seq = 0;
  std::vector<std::shared_ptr<const GpuInfo>> gpus;
  std::vector<std::string> metrics;
  std::vector<Item> samples;
};

// One sample to publish; `gpu` must outlive the encoder's use of it.
struct OutSample {
  const GpuInfo* gpu = nullptr;
  std::string metric;
  std::int64_t timestamp_ns = 0;
  double value = 0;
};

// Client side of per-connection interning: a GPU or metric is defined once per connection and
// referenced by number afterwards. Create a new encoder for every new connection.
class PublishEncoder {
 public:
  void encode(std::string& out, std::uint64_t seq, const std::vector<OutSample>& samples);

 private:
  std::unordered_map<std::string, std::pair<std::uint32_t, const GpuInfo*>> gpus_;
  std::unordered_map<std::string, std::uint32_t> metrics_;
  std::uint32_t next_gpu_ = 0;
  std::uint32_t next_metric_ = 0;
};

// Broker side: the per-connection tables the encoder's defs build up.
class PublishDecoder {
 public:
  [[nodiscard]] tl::expected<Batch, ProtocolError> decode(std::string_view payload,
                                                          const std::string& producer);

 private:
  std::vector<std::shared_ptr<const GpuInfo>> gpus_;
  std::vector<std::string> metrics_;
  std::vector<std::uint32_t> remap_gpu_, remap_metric_;  // scratch: conn ref -> batch ref
};

// GpuInfo binary form shared by frames, WAL and checkpoints.
void encode_gpu(std::string& out, const GpuInfo& g);
bool decode_gpu(std::string_view& in, GpuInfo& g);

}  // namespace rm::telemetry
