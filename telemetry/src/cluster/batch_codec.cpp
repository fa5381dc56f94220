// Cluster message encoding (see batch_codec.hpp for the layout).
#include "telemetry/cluster/batch_codec.hpp"

#include <cmath>
#include <cstring>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

namespace rm::telemetry {

namespace {

constexpr char kMagic[3] = {'R', 'M', 'B'};
constexpr std::size_t kMaxMetricName = 4096;
constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}
// Differences as two's-complement wrap-around: defined for any pair of int64 values.
std::int64_t wrap_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}
std::int64_t wrap_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

void put_varint(std::string& out, std::uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, static_cast<std::size_t>(n));
}

enum Kind : std::uint64_t { kInteger = 0, kDouble = 1, kDecimal = 2 };
constexpr double kPow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
constexpr int kMaxScale = 6;  // decimals tried by the encoder; the decoder accepts up to 9

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}
// A value stored as an integer varint when that is exact.
bool integral(double v, std::int64_t& i) {
  if (!(std::fabs(v) < kMaxExactInt) || std::signbit(v) != (v < 0)) return false;  // NaN, inf, -0.0
  i = static_cast<std::int64_t>(v);
  return static_cast<double>(i) == v;
}
// A value with few decimals (as parsed from DCGM text, "73.125"): i / 10^scale gives its exact
// bits back.
bool decimal(double v, std::int64_t& i, int& scale) {
  for (int k = 1; k <= kMaxScale; ++k) {
    const double t = std::nearbyint(v * kPow10[k]);
    if (!(std::fabs(t) < kMaxExactInt)) return false;
    i = static_cast<std::int64_t>(t);
    if (same_bits(static_cast<double>(i) / kPow10[k], v)) {
      scale = k;
      return true;
    }
  }
  return false;
}

class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      const auto b = static_cast<std::uint8_t>(in_[pos_++]);
      if (shift == 63 && b > 1) return false;  // more than 64 bits
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool bytes(std::size_t n, std::string_view& out) {
    if (in_.size() - pos_ < n) return false;
    out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view rest() const { return in_.substr(pos_); }
  void skip(std::size_t n) { pos_ += n; }
  std::size_t remaining() const { return in_.size() - pos_; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

tl::expected<Batch, std::string> decode_compact(std::string_view payload, const std::string& producer) {
  Batch b;
  b.producer = producer;
  Cursor c(payload.substr(4));
  auto bad = [&](const std::string& what) {
    return tl::unexpected(fmt::format("cluster batch {} of '{}': {}", b.seq, producer, what));
  };
  std::uint64_t n = 0;
  if (!c.varint(b.seq) || !c.varint(n)) return bad("truncated header");
  // Each definition and sample takes at least one byte: counts beyond what is left are lies.
  if (n > c.remaining()) return bad(fmt::format("{} GPU definitions in {} bytes", n, c.remaining()));
  b.gpus.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    auto g = std::make_shared<GpuInfo>();
    std::string_view rest = c.rest();
    const std::size_t before = rest.size();
    if (!decode_gpu(rest, *g)) return bad(fmt::format("GPU definition {} truncated or without an id", i));
    c.skip(before - rest.size());
    b.gpus.push_back(std::move(g));
  }
  if (!c.varint(n)) return bad("truncated metric definitions");
  if (n > c.remaining()) return bad(fmt::format("{} metric definitions in {} bytes", n, c.remaining()));
  b.metrics.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t len = 0;
    std::string_view name;
    if (!c.varint(len) || len == 0 || len > kMaxMetricName || !c.bytes(static_cast<std::size_t>(len), name)) {
      return bad(
          fmt::format("metric definition {} truncated, empty or longer than {} bytes", i, kMaxMetricName));
    }
    b.metrics.emplace_back(name);
  }
  std::uint64_t ts0 = 0;
  if (!c.varint(n) || !c.varint(ts0)) return bad("truncated sample header");
  if (n > c.remaining() / 3) return bad(fmt::format("{} samples cannot fit in {} bytes", n, c.remaining()));
  if (n > 0 && (b.gpus.empty() || b.metrics.empty())) return bad("samples without GPU or metric definitions");
  b.samples.resize(static_cast<std::size_t>(n));
  std::int64_t ts = unzigzag(ts0);
  std::int64_t gpu = 0;
  for (std::size_t i = 0; i < b.samples.size(); ++i) {
    auto& s = b.samples[i];
    std::uint64_t dg = 0, mk = 0, dt = 0;
    if (!c.varint(dg) || !c.varint(mk) || !c.varint(dt)) return bad(fmt::format("sample {} truncated", i));
    gpu = wrap_add(gpu, unzigzag(dg));
    const std::uint64_t metric = mk >> 2;
    if (gpu < 0 || static_cast<std::uint64_t>(gpu) >= b.gpus.size() || metric >= b.metrics.size()) {
      return bad(fmt::format("sample {} refers to GPU ref {} of {} or metric ref {} of {}", i, gpu,
                             b.gpus.size(), metric, b.metrics.size()));
    }
    ts = wrap_add(ts, unzigzag(dt));
    s.gpu = static_cast<std::uint32_t>(gpu);
    s.metric = static_cast<std::uint32_t>(metric);
    s.timestamp_ns = ts;
    const std::uint64_t kind = mk & 3;
    if (kind == kInteger) {
      std::uint64_t v = 0;
      if (!c.varint(v)) return bad(fmt::format("sample {} value truncated", i));
      s.value = static_cast<double>(unzigzag(v));
    } else if (kind == kDecimal) {
      std::uint64_t scale = 0, v = 0;
      if (!c.varint(scale) || !c.varint(v)) return bad(fmt::format("sample {} value truncated", i));
      if (scale < 1 || scale >= std::size(kPow10)) {
        return bad(fmt::format("sample {} has decimal scale {} (1..{})", i, scale, std::size(kPow10) - 1));
      }
      s.value = static_cast<double>(unzigzag(v)) / kPow10[scale];
    } else if (kind == kDouble) {
      std::string_view raw;
      if (!c.bytes(8, raw)) return bad(fmt::format("sample {} value truncated", i));
      std::uint64_t bits = 0;
      for (int k = 7; k >= 0; --k)
        bits = bits << 8 | static_cast<std::uint8_t>(raw[static_cast<std::size_t>(k)]);
      std::memcpy(&s.value, &bits, sizeof bits);
    } else {
      return bad(fmt::format("sample {} has value kind {}", i, kind));
    }
  }
  if (c.remaining() != 0) return bad(fmt::format("{} bytes after the last sample", c.remaining()));
  return b;
}

// The earlier format: exactly one PUBLISH frame of the broker protocol.
tl::expected<Batch, std::string> decode_frame(std::string_view payload, const std::string& producer) {
  FrameDecoder dec;
  dec.feed(payload);
  auto f = dec.next();
  if (!f) return tl::unexpected(f.error().message);
  if (!*f || (*f)->type != FrameType::publish || dec.buffered() != 0) {
    return tl::unexpected(std::string("payload is neither a cluster batch nor exactly one PUBLISH frame"));
  }
  PublishDecoder pd;
  auto b = pd.decode((*f)->payload, producer);
  if (!b) return tl::unexpected(b.error().message);
  return std::move(*b);
}

}  // namespace

void encode_cluster_batch(std::string& out, std::uint64_t seq, const std::vector<OutSample>& samples) {
  // Batch-local tables: GPUs by id (a row's GpuInfo may be its own object with the same id),
  // metrics by name; the previous sample's entries are tried first.
  std::vector<const GpuInfo*> gpus;
  std::vector<const std::string*> metrics;
  std::unordered_map<std::string_view, std::uint32_t> gpu_ref, metric_ref;
  struct Ref {
    std::uint32_t gpu, metric;
  };
  std::vector<Ref> refs;
  refs.reserve(samples.size());
  const GpuInfo* last_gpu = nullptr;
  const std::string* last_metric = nullptr;
  Ref last{0, 0};
  for (const auto& s : samples) {
    if (s.gpu != last_gpu) {
      auto [it, added] = gpu_ref.try_emplace(s.gpu->id, static_cast<std::uint32_t>(gpus.size()));
      if (added) {
        gpus.push_back(s.gpu);
      } else if (gpus[it->second] != s.gpu && !(*gpus[it->second] == *s.gpu)) {
        // Same id, other metadata: a second definition; the decoder keeps the later one.
        it->second = static_cast<std::uint32_t>(gpus.size());
        gpus.push_back(s.gpu);
      }
      last.gpu = it->second;
      last_gpu = s.gpu;
    }
    if (last_metric == nullptr || s.metric != *last_metric) {
      auto [it, added] = metric_ref.try_emplace(s.metric, static_cast<std::uint32_t>(metrics.size()));
      if (added) metrics.push_back(&s.metric);
      last.metric = it->second;
      last_metric = &s.metric;
    }
    refs.push_back(last);
  }
  out.append(kMagic, sizeof kMagic);
  out.push_back(static_cast<char>(kClusterBatchVersion));
  put_varint(out, seq);
  put_varint(out, gpus.size());
  for (const GpuInfo* g : gpus) encode_gpu(out, *g);
  put_varint(out, metrics.size());
  for (const std::string* m : metrics) {
    put_varint(out, m->size());
    out.append(*m);
  }
  put_varint(out, samples.size());
  std::int64_t ts = samples.empty() ? 0 : samples.front().timestamp_ns;
  put_varint(out, zigzag(ts));
  std::int64_t gpu = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    put_varint(out, zigzag(wrap_sub(refs[i].gpu, gpu)));
    gpu = refs[i].gpu;
    std::int64_t iv = 0;
    int scale = 0;
    const Kind kind = integral(s.value, iv) ? kInteger : decimal(s.value, iv, scale) ? kDecimal : kDouble;
    put_varint(out, std::uint64_t{refs[i].metric} << 2 | kind);
    put_varint(out, zigzag(wrap_sub(s.timestamp_ns, ts)));
    ts = s.timestamp_ns;
    if (kind == kInteger) {
      put_varint(out, zigzag(iv));
    } else if (kind == kDecimal) {
      put_varint(out, static_cast<std::uint64_t>(scale));
      put_varint(out, zigzag(iv));
    } else {
      std::uint64_t bits = 0;
      std::memcpy(&bits, &s.value, sizeof bits);
      char le[8];
      for (int k = 0; k < 8; ++k) le[k] = static_cast<char>(bits >> (8 * k));
      out.append(le, sizeof le);
    }
  }
}

tl::expected<Batch, std::string> decode_cluster_batch(std::string_view payload, const std::string& producer) {
  if (payload.size() >= 4 && std::memcmp(payload.data(), kMagic, sizeof kMagic) == 0) {
    const auto version = static_cast<std::uint8_t>(payload[3]);
    if (version != kClusterBatchVersion) {
      return tl::unexpected(
          fmt::format("cluster batch of '{}' has format version {}; this build reads version {}", producer,
                      version, kClusterBatchVersion));
    }
    return decode_compact(payload, producer);
  }
  return decode_frame(payload, producer);
}

}  // namespace rm::telemetry
