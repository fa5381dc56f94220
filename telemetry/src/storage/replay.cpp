// Replay of checkpoints and WAL segments, shared by the store's recovery and the follower.
#include "telemetry/storage/replay.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "bytes.hpp"
#include "telemetry/wire/protocol.hpp"

namespace rm::telemetry {

namespace fs = std::filesystem;
using detail::Reader;

bool ReplayState::apply_gpu_def(std::string_view payload) {
  Reader r(payload);
  std::uint32_t ref = 0;
  auto info = std::make_shared<GpuInfo>();
  if (!r.u32(ref) || ref > gpu_infos.size()) return false;
  std::string_view rest = payload.substr(4);
  if (!decode_gpu(rest, *info) || !rest.empty()) return false;
  Index::Gpu* slot = index_.upsert_gpu(*info);
  if (ref == gpu_infos.size()) {
    gpu_infos.push_back(std::move(info));
    gpus_.push_back(slot);
  } else {
    gpu_infos[ref] = std::move(info);
    gpus_[ref] = slot;
  }
  return true;
}

bool ReplayState::apply_metric_def(std::string_view payload) {
  Reader r(payload);
  std::uint32_t ref = 0;
  std::string name;
  if (!r.u32(ref) || ref > metric_names.size() || !r.str(name, 4096) || !r.done()) return false;
  const std::uint32_t id = index_.metric_id(name);
  if (ref == metric_names.size()) {
    metric_names.push_back(std::move(name));
    metrics_.push_back(id);
  } else {
    metric_names[ref] = std::move(name);
    metrics_[ref] = id;
  }
  return true;
}

// Decodes every sample (refs checked) before the producer's seq moves or anything is appended.
bool ReplayState::apply_batch(std::string_view payload) {
  Reader r(payload);
  std::string producer;
  std::uint64_t seq = 0;
  std::uint32_t n = 0;
  if (!r.str(producer, 256) || !r.u64(seq) || !r.u32(n) || r.remaining() != std::size_t{n} * 24) {
    return false;
  }
  struct Decoded {
    std::uint32_t gpu;
    Index::Entry e;
  };
  std::vector<Decoded> samples(n);
  for (auto& d : samples) {
    std::uint32_t m = 0;
    r.u32(d.gpu);
    r.u32(m);
    r.i64(d.e.timestamp_ns);
    r.f64(d.e.value);
    if (d.gpu >= gpus_.size() || m >= metrics_.size()) return false;
    d.e.metric = metrics_[m];
  }
  auto& hi = producers[producer];
  if (seq <= hi) return true;  // already applied (defensive; the writer never logs dups)
  hi = seq;
  ++batches;
  Index::Gpu* run_gpu = nullptr;
  scratch_.clear();
  for (const auto& d : samples) {
    if (gpus_[d.gpu] != run_gpu) {
      if (run_gpu) index_.append_many(run_gpu, scratch_.data(), scratch_.size());
      scratch_.clear();
      run_gpu = gpus_[d.gpu];
    }
    scratch_.push_back(d.e);
  }
  if (run_gpu) index_.append_many(run_gpu, scratch_.data(), scratch_.size());
  return true;
}

bool ReplayState::apply_gpu_state(std::string_view payload) {
  Reader r(payload);
  std::uint32_t ref = 0, nl = 0, ne = 0;
  Index::GpuState s;
  if (!r.u32(ref) || ref >= gpu_infos.size() || !r.i64(s.first_seen_ns) || !r.u64(s.appended) || !r.u32(nl) ||
      nl > metric_names.size()) {
    return false;
  }
  s.info = *gpu_infos[ref];
  auto entry = [&](std::uint32_t& id, std::int64_t& ts, double& v) {
    std::uint32_t m = 0;
    if (!r.u32(m) || m >= metrics_.size() || !r.i64(ts) || !r.f64(v)) return false;
    id = metrics_[m];
    return true;
  };
  for (std::uint32_t i = 0; i < nl; ++i) {
    Index::Latest l;
    if (!entry(l.metric, l.timestamp_ns, l.value)) return false;
    s.latest.push_back(l);
  }
  if (!r.u32(ne) || r.remaining() != std::size_t{ne} * 20) return false;
  s.entries.reserve(ne);
  for (std::uint32_t i = 0; i < ne; ++i) {
    Index::Entry e;
    if (!entry(e.metric, e.timestamp_ns, e.value)) return false;
    s.entries.push_back(e);
  }
  index_.restore(s);
  return true;
}

// The first record of a segment: its predecessor must have replayed to exactly the length the
// writer had given it, or that predecessor lost its tail and this segment follows a gap.
bool ReplayState::apply_segment_start(std::string_view payload) {
  Reader r(payload);
  std::uint64_t prev = 0, length = 0;
  if (!r.u64(prev) || !r.u64(length) || !r.done()) return false;
  if (!previous_segment || previous_segment->first != prev || previous_segment->second == length) return true;
  gap = fmt::format("segment {} was written to {} bytes but replays to {}: its tail never reached the disk",
                    segment_name(prev), length, previous_segment->second);
  return false;
}

bool ReplayState::apply(RecordType type, std::string_view payload) {
  bool ok = false;
  switch (type) {
    case RecordType::gpu_def:
      ok = apply_gpu_def(payload);
      break;
    case RecordType::metric_def:
      ok = apply_metric_def(payload);
      break;
    case RecordType::batch:
      ok = apply_batch(payload);
      break;
    case RecordType::gpu_state:
      ok = apply_gpu_state(payload);
      break;
    case RecordType::segment_start:
      ok = apply_segment_start(payload);
      break;
    case RecordType::ckpt_header: {
      Reader r(payload);
      std::uint64_t seg = 0;
      ok = r.u64(seg) && r.done();
      if (ok) checkpoint_segment = seg;
      break;
    }
    case RecordType::producer: {
      Reader r(payload);
      std::string producer;
      std::uint64_t seq = 0;
      ok = r.str(producer, 256) && r.u64(seq) && r.done();
      if (ok) producers[producer] = std::max(producers[producer], seq);
      break;
    }
    case RecordType::ckpt_end: {
      // u64 number of records before it: a checkpoint missing records is not complete.
      Reader r(payload);
      std::uint64_t count = 0;
      if (!r.u64(count) || !r.done() || count != records) return false;
      checkpoint_complete = true;
      return true;
    }
  }
  if (ok) ++records;
  return ok;
}

fs::path checkpoint_path(const fs::path& dir, std::uint64_t covered) {
  return dir / fmt::format("checkpoint.{}", segment_name(covered));
}

Status load_checkpoint(const fs::path& path, ReplayState& state) {
  auto data = read_file(path);
  if (!data) return tl::unexpected(data.error());
  std::size_t after_end = 0;
  auto res = scan_records(*data, kCheckpointMagic, 0, [&](RecordType t, std::string_view p) {
    if (state.checkpoint_complete) ++after_end;
    return state.apply(t, p);
  });
  if (res.stop != ScanStop::clean) {
    return telemetry_error(TelemetryErrc::corrupt,
                           fmt::format("checkpoint '{}' is invalid at offset {}: {}", path.string(),
                                       res.valid_end, to_string(res.stop)));
  }
  if (!state.checkpoint_complete || after_end != 0 || !state.checkpoint_segment) {
    return telemetry_error(
        TelemetryErrc::corrupt,
        fmt::format("checkpoint '{}' is incomplete (no end record, or its record count does not match)",
                    path.string()));
  }
  return {};
}

SegmentReplay replay_segment(std::string_view data, std::uint64_t segment, std::size_t offset, bool is_last,
                             ReplayState& state) {
  SegmentReplay out;
  if (segment != state.segment) {
    if (state.segment != 0) state.previous_segment.emplace(state.segment, state.segment_end);
    state.segment = segment;
    state.segment_end = 0;
  }
  // `data` starts at `offset`: only a read from the start of the file checks the header.
  out.scan = scan_records(data, offset == 0 ? kSegmentMagic : std::string_view(), 0,
                          [&](RecordType t, std::string_view p) { return state.apply(t, p); });
  if (offset + out.scan.valid_end > state.segment_end) state.segment_end = offset + out.scan.valid_end;
  out.log_ends_here = !is_last && out.scan.stop != ScanStop::clean && out.scan.stop != ScanStop::zero_fill;
  return out;
}

}  // namespace rm::telemetry
