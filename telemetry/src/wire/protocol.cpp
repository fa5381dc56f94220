#include "telemetry/wire/protocol.hpp"

#include <cstring>

#include <fmt/format.h>

#include "bytes.hpp"

namespace rm::telemetry {

using detail::Reader;
using detail::Writer;

const char* to_string(ErrorCode c) {
  switch (c) {
    case ErrorCode::bad_frame:
      return "bad_frame";
    case ErrorCode::unsupported_version:
      return "unsupported_version";
    case ErrorCode::hello_required:
      return "hello_required";
    case ErrorCode::credit_exceeded:
      return "credit_exceeded";
    case ErrorCode::frame_too_large:
      return "frame_too_large";
    case ErrorCode::storage_failure:
      return "storage_failure";
    case ErrorCode::shutting_down:
      return "shutting_down";
    case ErrorCode::bad_batch:
      return "bad_batch";
    case ErrorCode::storage_unavailable:
      return "storage_unavailable";
    case ErrorCode::unauthorized:
      return "unauthorized";
    case ErrorCode::bad_timestamp:
      return "bad_timestamp";
    case ErrorCode::too_many_connections:
      return "too_many_connections";
  }
  return "unknown";
}

namespace {
ProtocolError perr(ErrorCode c, std::string m) {
  return ProtocolError{c, std::move(m)};
}
constexpr std::size_t kMaxString = 64 * 1024;
constexpr std::uint32_t kMaxLabels = 1024;

bool read_gpu(Reader& r, GpuInfo& g) {
  std::uint32_t n = 0;
  if (!r.str(g.id, kMaxString) || !r.str(g.uuid, kMaxString) || !r.str(g.gpu_index, kMaxString) ||
      !r.str(g.device, kMaxString) || !r.str(g.model, kMaxString) || !r.str(g.hostname, kMaxString) ||
      !r.u32(n) || n > kMaxLabels) {
    return false;
  }
  g.labels.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!r.str(k, kMaxString) || !r.str(v, kMaxString)) return false;
    g.labels.emplace(std::move(k), std::move(v));
  }
  return !g.id.empty();
}
void write_gpu(Writer& w, const GpuInfo& g) {
  w.str(g.id);
  w.str(g.uuid);
  w.str(g.gpu_index);
  w.str(g.device);
  w.str(g.model);
  w.str(g.hostname);
  w.u32(static_cast<std::uint32_t>(g.labels.size()));
  for (const auto& [k, v] : g.labels) {
    w.str(k);
    w.str(v);
  }
}
}  // namespace

void encode_gpu(std::string& out, const GpuInfo& g) {
  Writer w(out);
  write_gpu(w, g);
}

bool decode_gpu(std::string_view& in, GpuInfo& g) {
  Reader r(in);
  if (!read_gpu(r, g)) return false;
  in.remove_prefix(in.size() - r.remaining());
  return true;
}

tl::expected<std::optional<Frame>, ProtocolError> FrameDecoder::next() {
  if (buf_.size() - pos_ < 4) return std::optional<Frame>{};
  const std::uint32_t len = detail::load_u32(buf_.data() + pos_);
  if (len == 0) return tl::unexpected(perr(ErrorCode::bad_frame, "frame length 0 (no type byte)"));
  if (len > max_frame_) {
    return tl::unexpected(
        perr(ErrorCode::frame_too_large,
             fmt::format("frame of {} bytes exceeds the limit of {} bytes", len, max_frame_)));
  }
  if (buf_.size() - pos_ < 5) return std::optional<Frame>{};
  const auto type = static_cast<std::uint8_t>(buf_[pos_ + 4]);
  if (type < 1 || type > 5) {
    return tl::unexpected(perr(ErrorCode::bad_frame, fmt::format("unknown frame type {}", type)));
  }
  if (buf_.size() - pos_ < 4 + std::size_t{len}) return std::optional<Frame>{};
  Frame f{static_cast<FrameType>(type), buf_.substr(pos_ + 5, len - 1)};
  pos_ += 4 + std::size_t{len};
  // Compact once the consumed prefix dominates, keeping feed() amortised O(n).
  if (pos_ > 65536 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return std::optional<Frame>{std::move(f)};
}

void encode_frame(std::string& out, FrameType type, std::string_view payload) {
  Writer w(out);
  w.u32(static_cast<std::uint32_t>(payload.size() + 1));
  w.u8(static_cast<std::uint8_t>(type));
  out.append(payload);
}

namespace {
// Frames are built in place: reserve the length, write, patch the length.
template <typename F>
void framed(std::string& out, FrameType type, F&& body) {
  const std::size_t start = out.size();
  out.append(4, '\0');
  out.push_back(static_cast<char>(type));
  body(Writer(out));
  const auto len = static_cast<std::uint32_t>(out.size() - start - 4);
  std::memcpy(out.data() + start, &len, 4);
}
}  // namespace

void encode_hello(std::string& out, const Hello& h) {
  framed(out, FrameType::hello, [&](Writer w) {
    w.u32(h.version);
    w.str(h.producer_id);
    if (!h.token.empty()) w.str(h.token);
  });
}
void encode_ack(std::string& out, const Ack& a) {
  framed(out, FrameType::ack, [&](Writer w) {
    w.u64(a.seq);
    w.u8(a.duplicate ? 1 : 0);
  });
}
void encode_credit(std::string& out, std::uint32_t grant) {
  framed(out, FrameType::credit, [&](Writer w) { w.u32(grant); });
}
void encode_error(std::string& out, const ErrorFrame& e) {
  framed(out, FrameType::error, [&](Writer w) {
    w.u32(static_cast<std::uint16_t>(e.code));
    w.u64(e.seq);
    w.str(e.message);
  });
}

tl::expected<Hello, ProtocolError> decode_hello(std::string_view p) {
  Reader r(p);
  Hello h;
  if (!r.u32(h.version) || !r.str(h.producer_id, 256) || (!r.done() && !r.str(h.token, 1024)) || !r.done()) {
    return tl::unexpected(perr(ErrorCode::bad_frame, "malformed HELLO payload"));
  }
  if (h.producer_id.empty()) {
    return tl::unexpected(perr(ErrorCode::bad_frame, "HELLO with an empty producer id"));
  }
  return h;
}
tl::expected<Ack, ProtocolError> decode_ack(std::string_view p) {
  Reader r(p);
  Ack a;
  std::uint8_t d = 0;
  if (!r.u64(a.seq) || !r.u8(d) || d > 1 || !r.done()) {
    return tl::unexpected(perr(ErrorCode::bad_frame, "malformed ACK payload"));
  }
  a.duplicate = d == 1;
  return a;
}
tl::expected<std::uint32_t, ProtocolError> decode_credit(std::string_view p) {
  Reader r(p);
  std::uint32_t g = 0;
  if (!r.u32(g) || !r.done()) {
    return tl::unexpected(perr(ErrorCode::bad_frame, "malformed CREDIT payload"));
  }
  return g;
}
tl::expected<ErrorFrame, ProtocolError> decode_error(std::string_view p) {
  Reader r(p);
  ErrorFrame e;
  std::uint32_t code = 0;
  if (!r.u32(code) || !r.u64(e.seq) || !r.str(e.message, kMaxString) || !r.done()) {
    return tl::unexpected(perr(ErrorCode::bad_frame, "malformed ERROR payload"));
  }
  e.code = static_cast<ErrorCode>(code);
  return e;
}

void PublishEncoder::encode(std::string& out, std::uint64_t seq, const std::vector<OutSample>& samples) {
  std::vector<std::pair<std::uint32_t, const GpuInfo*>> new_gpus;
  std::vector<std::pair<std::uint32_t, const std::string*>> new_metrics;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> refs;
  refs.reserve(samples.size());
  for (const auto& s : samples) {
    auto [git, gnew] = gpus_.try_emplace(s.gpu->id, next_gpu_, s.gpu);
    if (gnew) {
      new_gpus.emplace_back(next_gpu_++, s.gpu);
    } else if (git->second.second != s.gpu && !(*git->second.second == *s.gpu)) {
      // Same id, different metadata: define it again under a new ref.
      git->second = {next_gpu_, s.gpu};
      new_gpus.emplace_back(next_gpu_++, s.gpu);
    }
    auto [mit, mnew] = metrics_.try_emplace(s.metric, next_metric_);
    if (mnew) new_metrics.emplace_back(next_metric_++, &mit->first);
    refs.emplace_back(git->second.first, mit->second);
  }
  framed(out, FrameType::publish, [&](Writer w) {
    w.u64(seq);
    w.u32(static_cast<std::uint32_t>(new_gpus.size()));
    for (auto& [ref, g] : new_gpus) {
      w.u32(ref);
      write_gpu(w, *g);
    }
    w.u32(static_cast<std::uint32_t>(new_metrics.size()));
    for (auto& [ref, m] : new_metrics) {
      w.u32(ref);
      w.str(*m);
    }
    w.u32(static_cast<std::uint32_t>(samples.size()));
    for (std::size_t i = 0; i < samples.size(); ++i) {
      w.u32(refs[i].first);
      w.u32(refs[i].second);
      w.i64(samples[i].timestamp_ns);
      w.f64(samples[i].value);
    }
  });
}

tl::expected<Batch, ProtocolError> PublishDecoder::decode(std::string_view payload,
                                                          const std::string& producer) {
  Reader r(payload);
  Batch b;
  b.producer = producer;
  std::uint32_t n = 0;
  auto bad = [&](std::string m) {
    return tl::unexpected(perr(ErrorCode::bad_batch, fmt::format("PUBLISH seq {}: {}", b.seq, m)));
  };
  if (!r.u64(b.seq) || !r.u32(n)) return bad("truncated header");
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t ref = 0;
    auto g = std::make_shared<GpuInfo>();
    if (!r.u32(ref) || !read_gpu(r, *g)) return bad("truncated or empty GPU definition");
    if (ref != gpus_.size()) {
      return bad(fmt::format("GPU ref {} defined out of order (expected {})", ref, gpus_.size()));
    }
    gpus_.push_back(std::move(g));
  }
  if (!r.u32(n)) return bad("truncated metric definitions");
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t ref = 0;
    std::string m;
    if (!r.u32(ref) || !r.str(m, 4096) || m.empty()) return bad("truncated metric definition");
    if (ref != metrics_.size()) {
      return bad(fmt::format("metric ref {} defined out of order (expected {})", ref, metrics_.size()));
    }
    metrics_.push_back(std::move(m));
  }
  if (!r.u32(n)) return bad("truncated sample count");
  if (std::size_t{n} * 24 != r.remaining()) {
    return bad(
        fmt::format("{} samples need {} bytes, payload has {}", n, std::size_t{n} * 24, r.remaining()));
  }
  remap_gpu_.assign(gpus_.size(), UINT32_MAX);
  remap_metric_.assign(metrics_.size(), UINT32_MAX);
  b.samples.resize(n);
  for (auto& s : b.samples) {
    std::uint32_t g = 0, m = 0;
    r.u32(g);
    r.u32(m);
    r.i64(s.timestamp_ns);
    r.f64(s.value);
    if (g >= gpus_.size() || m >= metrics_.size()) {
      return bad(fmt::format("sample refers to undefined GPU ref {} or metric ref {}", g, m));
    }
    if (remap_gpu_[g] == UINT32_MAX) {
      remap_gpu_[g] = static_cast<std::uint32_t>(b.gpus.size());
      b.gpus.push_back(gpus_[g]);
    }
    if (remap_metric_[m] == UINT32_MAX) {
      remap_metric_[m] = static_cast<std::uint32_t>(b.metrics.size());
      b.metrics.push_back(metrics_[m]);
    }
    s.gpu = remap_gpu_[g];
    s.metric = remap_metric_[m];
  }
  return b;
}

}  // namespace rm::telemetry
