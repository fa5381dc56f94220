#include "telemetry/storage/follower.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "telemetry/storage/replay.hpp"
#include "telemetry/storage/store_meta.hpp"
#include "thread_boundary.hpp"

namespace rm::telemetry {

namespace fs = std::filesystem;

namespace {
auto log() {
  return core::logger("telemetry.follower");
}

// Bytes of `p` from `offset` to its current end, or up to the first 64 KiB block that is all
// zeros: a pre-allocated segment's unwritten tail (no record holds 64 KiB of zero bytes: every
// sample carries a timestamp the broker checked), so a poll reads what was written, not the
// whole reserved segment. Empty when missing.
std::optional<std::string> read_from(const fs::path& p, std::size_t offset) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  constexpr std::size_t kBlock = 1 << 16;
  char buf[kBlock];
  off_t pos = static_cast<off_t>(offset);
  while (true) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, pos);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    pos += n;
    if (static_cast<std::size_t>(n) == kBlock &&
        std::all_of(buf, buf + kBlock, [](char c) { return c == 0; })) {
      break;
    }
  }
  ::close(fd);
  return out;
}
}  // namespace

struct DataDirFollower::State {
  struct Tail {
    std::unique_ptr<ReplayState> replay;
    std::uint64_t segment = 0;  // 0 = start at the first segment found
    std::size_t offset = 0;
  };
  std::map<std::string, Tail> tails;
  std::uint64_t records = 0;
};

DataDirFollower::DataDirFollower(FollowerOptions opts)
    : opts_(std::move(opts)),
      state_(std::make_unique<State>()),
      index_(std::make_shared<Index>(opts_.max_entries, opts_.retention.count())) {}

DataDirFollower::~DataDirFollower() {
  stop();
}

std::shared_ptr<Index> DataDirFollower::current() const {
  std::lock_guard lk(view_mu_);
  return index_;
}

namespace {

// Follows one collector directory as far as its files go now, with the replay the store's
// recovery uses (replay_segment): the log ends at mid-log corruption exactly where the
// collector will cut it. Returns false when the follower fell behind a checkpoint and must
// rebuild.
bool follow(const fs::path& dir, Index& index, std::unique_ptr<ReplayState>& replay, std::uint64_t& segment,
            std::size_t& offset, std::uint64_t& records) {
  const fs::path wal = dir / "wal";
  if (!replay) {
    for (int attempt = 0; attempt < 3 && !replay; ++attempt) {
      auto st = std::make_unique<ReplayState>(index);
      const auto cps = list_checkpoints(dir);
      bool loaded = cps.empty();
      for (std::uint64_t c : cps) {
        if (auto r = load_checkpoint(checkpoint_path(dir, c), *st); r) {
          segment = c + 1;
          loaded = true;
          break;
        } else {
          log()->debug("{}", r.error().message);
          st = std::make_unique<ReplayState>(index);
        }
      }
      if (loaded) replay = std::move(st);
    }
    if (!replay) return true;  // checkpoints changing under us; next poll retries
    offset = 0;
  }
  while (true) {
    const auto segs = list_segments(wal);
    if (segs.empty()) return true;
    if (segment == 0) segment = segs.front();
    const auto at = std::lower_bound(segs.begin(), segs.end(), segment);
    if (at == segs.end()) return true;  // not created yet
    if (*at != segment) {
      // Retired by a checkpoint before we read all of it: rebuild from the checkpoint.
      const auto cps = list_checkpoints(dir);
      if (!cps.empty() && cps.front() >= segment) return false;
      // Otherwise the collector cut the log after corruption (dropping the segments after it)
      // and continued in a new one.
      segment = *at;
      offset = 0;
    }
    const bool later = segs.back() > segment;
    auto data = read_from(wal / segment_name(segment), offset);
    if (!data) return !later;
    const auto replayed = replay_segment(*data, segment, offset, !later, *replay);
    offset += replayed.scan.valid_end;
    records += replayed.scan.records;
    if (!later) return true;
    if (replayed.log_ends_here) {
      log()->warn("segment {}/{}: {} at offset {}: the log ends here until the collector cuts it",
                  wal.string(), segment_name(segment), to_string(replayed.scan.stop), offset);
      return true;
    }
    ++segment;
    offset = 0;
  }
}

}  // namespace

bool DataDirFollower::follow_all(State& state, Index& index) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(opts_.data_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code ec2;
    if (!it->is_directory(ec2) || !fs::is_directory(it->path() / "wal", ec2)) continue;
    auto& t = state.tails[it->path().filename().string()];
    if (!follow(it->path(), index, t.replay, t.segment, t.offset, state.records)) return false;
  }
  return true;
}

// The index is sized as the collectors size theirs (their STORE files): the largest MAX_ENTRIES
// and the longest RETENTION (0 = none) among them, so it never keeps fewer samples than a
// collector does. The options are the fallback for directories without a STORE file.
std::pair<std::size_t, std::int64_t> DataDirFollower::limits() const {
  std::optional<std::pair<std::size_t, std::int64_t>> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(opts_.data_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code ec2;
    if (!it->is_directory(ec2) || !fs::is_directory(it->path() / "wal", ec2)) continue;
    const auto m = read_store_meta(it->path());
    const std::pair<std::size_t, std::int64_t> l = m ? std::pair{m->max_entries, m->retention_ns}
                                                     : std::pair{opts_.max_entries, opts_.retention.count()};
    if (!out) {
      out = l;
      continue;
    }
    out->first = std::max(out->first, l.first);
    out->second = out->second == 0 || l.second == 0 ? 0 : std::max(out->second, l.second);
  }
  return out.value_or(std::pair{opts_.max_entries, opts_.retention.count()});
}

void DataDirFollower::poll_once() {
  std::lock_guard lk(poll_mu_);
  const auto [max_entries, retention_ns] = limits();
  const auto cur = current();
  const bool resize = cur->max_entries() != max_entries || cur->retention_ns() != retention_ns;
  if (resize) {
    log()->info("{}: the collectors' stores keep {} samples per GPU (retention {} ns); rebuilding the index",
                opts_.data_dir.string(), max_entries, retention_ns);
  } else if (follow_all(*state_, *cur)) {
    return;
  } else {
    log()->info("follower fell behind a checkpoint of {}; rebuilding its index", opts_.data_dir.string());
  }
  // The served index stays in place until the rebuilt one is complete: a reader never sees a
  // GPU vanish or a count go down while checkpoints retire segments.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto fresh_state = std::make_unique<State>();
    auto fresh = std::make_shared<Index>(max_entries, retention_ns);
    if (!follow_all(*fresh_state, *fresh)) continue;
    state_ = std::move(fresh_state);
    {
      std::lock_guard vl(view_mu_);
      index_ = std::move(fresh);
    }
    if (!resize) ++rebuilds_;
    return;
  }
  log()->warn("could not rebuild the index of {} (checkpoints moving on); serving the previous one",
              opts_.data_dir.string());
}

void DataDirFollower::start() {
  poll_once();
  thread_ = std::thread([this] {
    detail::guard_thread("follower", [this] {
      std::unique_lock lk(stop_mu_);
      while (!stop_) {
        stop_cv_.wait_for(lk, opts_.poll_interval, [&] { return stop_; });
        if (stop_) break;
        lk.unlock();
        poll_once();
        lk.lock();
      }
    });
  });
}

void DataDirFollower::stop() {
  {
    std::lock_guard lk(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t DataDirFollower::collectors() const {
  std::lock_guard lk(poll_mu_);
  return state_->tails.size();
}
void DataDirFollower::register_metrics(const std::shared_ptr<const DataDirFollower>& follower,
                                       core::metrics::Registry& r) {
  r.gauge_callback("api_gateway_gpus", "GPUs with data visible to the gateway.",
                   [follower] { return static_cast<double>(follower->gpus().size()); });
  r.gauge_callback("api_gateway_follower_records_read", "Log records read from DATA_DIR since start.",
                   [follower] { return static_cast<double>(follower->records_read()); });
  r.counter_callback("api_gateway_follower_rebuilds_total",
                     "Index rebuilds after falling behind a checkpoint.",
                     [follower] { return static_cast<double>(follower->rebuilds()); });
}

std::uint64_t DataDirFollower::rebuilds() const {
  std::lock_guard lk(poll_mu_);
  return rebuilds_;
}
std::uint64_t DataDirFollower::records_read() const {
  std::lock_guard lk(poll_mu_);
  return state_->records;
}

std::vector<GpuSummary> DataDirFollower::gpus() const {
  return current()->gpus();
}
std::optional<GpuSummary> DataDirFollower::gpu(const std::string& id) const {
  return current()->gpu(id);
}
std::vector<HostSummary> DataDirFollower::hosts() const {
  return current()->hosts();
}
tl::expected<TelemetryPage, QueryError> DataDirFollower::query(const TelemetryQuery& q) const {
  return current()->query(q);
}
std::vector<Point> DataDirFollower::latest(const std::string& gpu_id) const {
  return current()->latest(gpu_id);
}
std::vector<std::vector<SeriesSample>> DataDirFollower::samples(const std::string& gpu_id,
                                                                const std::vector<std::string>& metrics,
                                                                std::int64_t start_ns,
                                                                std::int64_t end_ns) const {
  return current()->samples(gpu_id, metrics, start_ns, end_ns);
}

}  // namespace rm::telemetry
