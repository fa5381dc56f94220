#include "telemetry/follower.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/log.hpp"
#include "telemetry/store.hpp"

namespace rm::telemetry {

namespace fs = std::filesystem;

namespace {
auto log() { return core::logger("telemetry.follower"); }

// Bytes of `p` from `offset` to its current end; empty when missing.
std::optional<std::string> read_from(const fs::path& p, std::size_t offset) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[1 << 16];
  off_t pos = static_cast<off_t>(offset);
  while (true) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, pos);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    pos += n;
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
  bool fell_behind = false;
};

DataDirFollower::DataDirFollower(FollowerOptions opts)
    : opts_(std::move(opts)),
      state_(std::make_unique<State>()),
      index_(std::make_shared<Index>(opts_.max_entries)) {}

DataDirFollower::~DataDirFollower() { stop(); }

std::shared_ptr<Index> DataDirFollower::current() const {
  std::lock_guard lk(view_mu_);
  return index_;
}

namespace {

// Follows one collector directory as far as its files go now.
// Returns false when the follower fell behind a checkpoint and must rebuild.
bool follow(const fs::path& dir, DataDirFollower* /*self*/, Index& index,
            std::unique_ptr<ReplayState>& replay, std::uint64_t& segment, std::size_t& offset,
            std::uint64_t& records) {
  const fs::path wal = dir / "wal";
  if (!replay) {
    for (int attempt = 0; attempt < 3 && !replay; ++attempt) {
      auto st = std::make_unique<ReplayState>(index);
      const auto cps = list_checkpoints(dir);
      bool loaded = cps.empty();
      for (std::uint64_t c : cps) {
        if (auto r = load_checkpoint(dir / fmt::format("checkpoint.{}", segment_name(c)), *st); r) {
          segment = c + 1;
          loaded = true;
          break;
        } else {
          log()->debug("{}", r.error());
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
    const bool present = std::binary_search(segs.begin(), segs.end(), segment);
    if (!present) {
      if (segs.front() > segment) return false;  // retired before we read it
      return true;                               // not created yet
    }
    const bool later = segs.back() > segment;
    auto data = read_from(wal / segment_name(segment), offset);
    if (!data) return !later ? true : false;
    ScanResult res;
    if (offset == 0) {
      res = scan_records(*data, kSegmentMagic, 0,
                         [&](RecordType t, std::string_view p) { return replay->apply(t, p); });
      offset = res.valid_end;
    } else {
      res = scan_records(*data, std::string_view(), 0,
                         [&](RecordType t, std::string_view p) { return replay->apply(t, p); });
      offset += res.valid_end;
    }
    records += res.records;
    if (!later) return true;
    if (res.stop != ScanStop::clean && res.stop != ScanStop::zero_fill && res.stop != ScanStop::torn) {
      log()->warn("segment {}/{}: {} at offset {}; continuing with the next segment", wal.string(),
                  segment_name(segment), to_string(res.stop), offset);
    }
    ++segment;
    offset = 0;
  }
}

}  // namespace

void DataDirFollower::poll_once() {
  std::lock_guard lk(poll_mu_);
  for (int round = 0; round < 2; ++round) {
    auto idx = current();
    bool behind = false;
    std::error_code ec;
    for (auto it = fs::directory_iterator(opts_.data_dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      std::error_code ec2;
      if (!it->is_directory(ec2) || !fs::is_directory(it->path() / "wal", ec2)) continue;
      auto& t = state_->tails[it->path().filename().string()];
      if (!follow(it->path(), this, *idx, t.replay, t.segment, t.offset, state_->records)) {
        behind = true;
        break;
      }
    }
    if (!behind) return;
    log()->info("follower fell behind a checkpoint of {}; rebuilding its index",
                opts_.data_dir.string());
    auto fresh = std::make_shared<Index>(opts_.max_entries);
    state_ = std::make_unique<State>();
    {
      std::lock_guard vl(view_mu_);
      index_ = fresh;  // readers see the rebuilt index as it fills
    }
  }
}

void DataDirFollower::start() {
  poll_once();
  thread_ = std::thread([this] {
    std::unique_lock lk(stop_mu_);
    while (!stop_) {
      stop_cv_.wait_for(lk, opts_.poll_interval, [&] { return stop_; });
      if (stop_) break;
      lk.unlock();
      poll_once();
      lk.lock();
    }
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
std::uint64_t DataDirFollower::records_read() const {
  std::lock_guard lk(poll_mu_);
  return state_->records;
}

std::vector<GpuSummary> DataDirFollower::gpus() const { return current()->gpus(); }
std::optional<GpuSummary> DataDirFollower::gpu(const std::string& id) const { return current()->gpu(id); }
std::vector<HostSummary> DataDirFollower::hosts() const { return current()->hosts(); }
tl::expected<TelemetryPage, QueryError> DataDirFollower::query(const TelemetryQuery& q) const {
  return current()->query(q);
}
std::vector<Point> DataDirFollower::latest(const std::string& gpu_id) const {
  return current()->latest(gpu_id);
}
std::vector<std::vector<SeriesSample>> DataDirFollower::samples(
    const std::string& gpu_id, const std::vector<std::string>& metrics, std::int64_t start_ns,
    std::int64_t end_ns) const {
  return current()->samples(gpu_id, metrics, start_ns, end_ns);
}

}  // namespace rm::telemetry
