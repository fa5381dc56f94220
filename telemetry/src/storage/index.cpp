#include "telemetry/storage/index.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <limits>
#include <map>

#include <fmt/format.h>

namespace rm::telemetry {

class Index::Gpu {
 public:
  mutable std::mutex mu;
  GpuInfo info;
  std::int64_t first_seen_ns = std::numeric_limits<std::int64_t>::max();
  std::int64_t last_seen_ns = std::numeric_limits<std::int64_t>::min();
  std::uint64_t appended = 0;
  // Retained entries, oldest first, start at `front` in chunks.front(). Every slot is written
  // once; shared chunks are therefore only ever appended to beyond what a SharedGpu covers.
  std::deque<std::shared_ptr<Chunk>> chunks;
  std::size_t front = 0;
  std::size_t count = 0;
  std::vector<Latest> latest;
  // True while every retained entry is at or after the one before it (the usual case: rows
  // are stamped as they are processed), so time windows can be found by binary search.
  bool ordered = true;
  // The retained samples again, one column per metric (oldest first), so reading one metric
  // of a window touches only that metric's samples instead of every entry of the ring. Built
  // by the query path (sync_columns, under mu) from the entries appended since its last call,
  // so ingest does not pay for them. A column is a contiguous ring (not a deque): a window is
  // then one or two sequential runs of memory, which the hardware prefetcher follows.
  struct Slot {
    std::int64_t timestamp_ns;
    double value;
    std::uint64_t position;  // appends before this one: says when it leaves the retained ring
  };
  struct Column {
    std::uint32_t metric = 0;
    std::vector<Slot> buf;
    std::size_t head = 0, size = 0;

    const Slot& at(std::size_t i) const {
      std::size_t j = head + i;
      if (j >= buf.size()) j -= buf.size();
      return buf[j];
    }
    void push_back(const Slot& x) {
      if (size == buf.size()) {
        std::vector<Slot> grown(std::max<std::size_t>(16, 2 * size));
        for (std::size_t i = 0; i < size; ++i) grown[i] = at(i);
        buf.swap(grown);
        head = 0;
      }
      std::size_t j = head + size;
      if (j >= buf.size()) j -= buf.size();
      buf[j] = x;
      ++size;
    }
    void pop_front() {
      if (++head == buf.size()) head = 0;
      --size;
    }
  };
  mutable std::vector<Column> columns;
  mutable std::uint64_t columns_through = 0;  // the columns hold the appends before this one

  void sync_columns() const {
    const std::uint64_t base = appended - count;
    if (columns_through < base) {  // never built, or everything it held fell out
      columns.clear();
      columns_through = base;
    }
    for (auto& c : columns) {
      while (c.size > 0 && c.at(0).position < base) c.pop_front();
    }
    for (std::uint64_t p = columns_through; p < appended; ++p) {
      const Entry& e = at(static_cast<std::size_t>(p - base));
      Column* col = nullptr;
      for (auto& c : columns) {
        if (c.metric == e.metric) col = &c;
      }
      if (col == nullptr) col = &columns.emplace_back(Column{e.metric, {}, 0, 0});
      col->push_back({e.timestamp_ns, e.value, p});
    }
    columns_through = appended;
  }

  void push(const Entry& e, std::size_t cap) {
    if (count > 0 && e.timestamp_ns < at(count - 1).timestamp_ns) ordered = false;
    const std::size_t end = front + count;
    if (end == chunks.size() * kChunkEntries) chunks.push_back(std::make_shared<Chunk>());
    chunks[end / kChunkEntries]->entries[end % kChunkEntries] = e;
    if (count < cap) {
      ++count;
    } else if (++front == kChunkEntries) {
      chunks.pop_front();
      front = 0;
    }
    ++appended;
    first_seen_ns = std::min(first_seen_ns, e.timestamp_ns);
    last_seen_ns = std::max(last_seen_ns, e.timestamp_ns);
    for (auto& l : latest) {
      if (l.metric == e.metric) {
        if (e.timestamp_ns >= l.timestamp_ns) l = {e.metric, e.timestamp_ns, e.value};
        return;
      }
    }
    latest.push_back({e.metric, e.timestamp_ns, e.value});
  }
  // Drops retained entries older than `retention_ns` before the newest sample.
  void expire(std::int64_t retention_ns) {
    if (retention_ns <= 0 || last_seen_ns < std::numeric_limits<std::int64_t>::min() + retention_ns) return;
    const std::int64_t oldest = last_seen_ns - retention_ns;
    while (count > 0 && at(0).timestamp_ns < oldest) {
      --count;
      if (++front == kChunkEntries) {
        chunks.pop_front();
        front = 0;
      }
    }
  }
  void clear() {
    chunks.clear();
    front = 0;
    count = 0;
    ordered = true;
    columns.clear();
    columns_through = 0;
  }
  std::size_t size() const { return count; }
  // i-th retained entry, oldest first.
  const Entry& at(std::size_t i) const {
    const std::size_t p = front + i;
    return chunks[p / kChunkEntries]->entries[p % kChunkEntries];
  }
};

Index::Index(std::size_t max_entries, std::int64_t retention_ns)
    : max_entries_(std::max<std::size_t>(1, max_entries)), retention_ns_(retention_ns) {}
Index::~Index() = default;

Index::Gpu* Index::upsert_gpu(const GpuInfo& info) {
  {
    std::shared_lock lk(gpus_mu_);
    auto it = gpus_.find(info.id);
    if (it != gpus_.end()) {
      Gpu* g = it->second.get();
      std::lock_guard glk(g->mu);
      if (!(g->info == info)) g->info = info;
      return g;
    }
  }
  std::unique_lock lk(gpus_mu_);
  auto& slot = gpus_[info.id];
  if (!slot) {
    slot = std::make_unique<Gpu>();
    slot->info = info;
  }
  return slot.get();
}

std::uint32_t Index::metric_id(std::string_view name) {
  {
    std::shared_lock lk(metrics_mu_);
    auto it = metric_ids_.find(std::string(name));
    if (it != metric_ids_.end()) return it->second;
  }
  std::unique_lock lk(metrics_mu_);
  auto [it, inserted] =
      metric_ids_.try_emplace(std::string(name), static_cast<std::uint32_t>(metric_names_.size()));
  if (inserted) metric_names_.emplace_back(name);
  return it->second;
}

std::string Index::metric_name(std::uint32_t id) const {
  std::shared_lock lk(metrics_mu_);
  return id < metric_names_.size() ? metric_names_[id] : std::string();
}

std::vector<std::string> Index::metric_names() const {
  std::shared_lock lk(metrics_mu_);
  return metric_names_;
}

void Index::append(Gpu* gpu, std::uint32_t metric, std::int64_t ts, double value) {
  std::lock_guard lk(gpu->mu);
  gpu->push({ts, value, metric}, max_entries_);
  gpu->expire(retention_ns_);
}

void Index::append_many(Gpu* gpu, const Entry* entries, std::size_t n) {
  std::lock_guard lk(gpu->mu);
  for (std::size_t i = 0; i < n; ++i) gpu->push(entries[i], max_entries_);
  gpu->expire(retention_ns_);
}

std::vector<Index::SharedGpu> Index::share() const {
  std::vector<Gpu*> all;
  {
    std::shared_lock lk(gpus_mu_);
    for (auto& [id, g] : gpus_) all.push_back(g.get());
  }
  std::vector<SharedGpu> out;
  out.reserve(all.size());
  for (Gpu* g : all) {
    SharedGpu s;
    std::lock_guard lk(g->mu);
    s.info = g->info;
    s.first_seen_ns = g->first_seen_ns;
    s.appended = g->appended;
    s.latest = g->latest;
    s.chunks.assign(g->chunks.begin(), g->chunks.end());
    s.front = g->front;
    s.count = g->count;
    out.push_back(std::move(s));
  }
  return out;
}

void Index::restore(const GpuState& s) {
  Gpu* g = upsert_gpu(s.info);
  const auto& entries = s.entries;
  const auto& latest = s.latest;
  std::lock_guard lk(g->mu);
  g->clear();
  g->latest.clear();
  for (const auto& e : entries) g->push(e, max_entries_);
  g->appended = std::max<std::uint64_t>(s.appended, entries.size());
  g->first_seen_ns = std::min(g->first_seen_ns, s.first_seen_ns);
  g->expire(retention_ns_);
  for (const auto& l : latest) {
    bool found = false;
    for (auto& cur : g->latest) {
      if (cur.metric == l.metric) {
        found = true;
        if (l.timestamp_ns >= cur.timestamp_ns) cur = l;
      }
    }
    if (!found) g->latest.push_back(l);
  }
}

std::size_t Index::gpu_count() const {
  std::shared_lock lk(gpus_mu_);
  return gpus_.size();
}

std::uint64_t Index::sample_count() const {
  std::shared_lock lk(gpus_mu_);
  std::uint64_t n = 0;
  for (auto& [id, g] : gpus_) {
    std::lock_guard glk(g->mu);
    n += g->size();
  }
  return n;
}

GpuSummary Index::summary(const Gpu& g) const {
  std::lock_guard lk(g.mu);
  GpuSummary s;
  s.info = g.info;
  s.samples = g.size();
  if (g.appended > 0) {
    s.first_seen_ns = g.first_seen_ns;
    s.last_seen_ns = g.last_seen_ns;
  }
  return s;
}

std::vector<GpuSummary> Index::gpus() const {
  std::vector<GpuSummary> out;
  {
    std::shared_lock lk(gpus_mu_);
    out.reserve(gpus_.size());
    for (auto& [id, g] : gpus_) out.push_back(summary(*g));
  }
  std::sort(out.begin(), out.end(),
            [](const GpuSummary& a, const GpuSummary& b) { return a.info.id < b.info.id; });
  return out;
}

std::optional<GpuSummary> Index::gpu(const std::string& id) const {
  std::shared_lock lk(gpus_mu_);
  auto it = gpus_.find(id);
  if (it == gpus_.end()) return std::nullopt;
  return summary(*it->second);
}

std::vector<HostSummary> Index::hosts() const {
  std::map<std::string, HostSummary> by_host;
  for (auto& s : gpus()) {
    if (s.info.hostname.empty()) continue;
    auto& h = by_host[s.info.hostname];
    h.hostname = s.info.hostname;
    h.gpu_ids.push_back(s.info.id);
    h.last_seen_ns = std::max(h.last_seen_ns, s.last_seen_ns);
  }
  std::vector<HostSummary> out;
  for (auto& [name, h] : by_host) out.push_back(std::move(h));
  return out;
}

namespace {
// Cursor: "<timestamp_ns>.<position>" where position counts appends to the GPU; resuming
// returns points strictly after (timestamp, position).
std::string make_cursor(std::int64_t ts, std::uint64_t pos) {
  return fmt::format("{}.{}", ts, pos);
}
bool parse_cursor(const std::string& c, std::int64_t& ts, std::uint64_t& pos) {
  const auto dot = c.find('.');
  if (dot == std::string::npos) return false;
  const char* b = c.data();
  auto r1 = std::from_chars(b, b + dot, ts);
  auto r2 = std::from_chars(b + dot + 1, b + c.size(), pos);
  return r1.ec == std::errc() && r1.ptr == b + dot && r2.ec == std::errc() && r2.ptr == b + c.size() &&
         dot > 0 && dot + 1 < c.size();
}
}  // namespace

tl::expected<TelemetryPage, QueryError> Index::query(const TelemetryQuery& q) const {
  std::int64_t cur_ts = 0;
  std::uint64_t cur_pos = 0;
  if (q.cursor && !parse_cursor(*q.cursor, cur_ts, cur_pos)) {
    return tl::unexpected(
        QueryError{QueryErrorCode::bad_cursor, fmt::format("cursor '{}' is malformed; pass back the "
                                                           "next_cursor of a previous page",
                                                           *q.cursor)});
  }
  const Gpu* g = nullptr;
  {
    std::shared_lock lk(gpus_mu_);
    auto it = gpus_.find(q.gpu_id);
    if (it != gpus_.end()) g = it->second.get();
  }
  if (g == nullptr) {
    return tl::unexpected(
        QueryError{QueryErrorCode::unknown_gpu, fmt::format("no GPU with id '{}'", q.gpu_id)});
  }
  std::vector<std::uint32_t> wanted;
  for (const auto& m : q.metrics) {
    std::shared_lock lk(metrics_mu_);
    auto it = metric_ids_.find(m);
    if (it != metric_ids_.end()) wanted.push_back(it->second);
  }
  if (!q.metrics.empty() && wanted.empty()) return TelemetryPage{};
  struct Hit {
    std::int64_t ts;
    std::uint64_t pos;
    double value;
    std::uint32_t metric;
  };
  std::vector<Hit> hits;
  const std::int64_t lo = q.start_ns.value_or(std::numeric_limits<std::int64_t>::min());
  const std::int64_t hi = q.end_ns.value_or(std::numeric_limits<std::int64_t>::max());
  {
    std::lock_guard lk(g->mu);
    const std::uint64_t base = g->appended - g->size();
    for (std::size_t i = 0; i < g->size(); ++i) {
      const Entry& e = g->at(i);
      if (e.timestamp_ns < lo || e.timestamp_ns > hi) continue;
      if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), e.metric) == wanted.end()) {
        continue;
      }
      const std::uint64_t pos = base + i;
      if (q.cursor && (e.timestamp_ns < cur_ts || (e.timestamp_ns == cur_ts && pos <= cur_pos))) {
        continue;
      }
      hits.push_back({e.timestamp_ns, pos, e.value, e.metric});
    }
  }
  auto less = [](const Hit& a, const Hit& b) { return a.ts != b.ts ? a.ts < b.ts : a.pos < b.pos; };
  if (!std::is_sorted(hits.begin(), hits.end(), less)) std::sort(hits.begin(), hits.end(), less);
  TelemetryPage page;
  const std::size_t n = std::min(hits.size(), q.limit);
  const auto names = metric_names();
  page.points.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    page.points.push_back({hits[i].ts, names[hits[i].metric], hits[i].value});
  if (hits.size() > n && n > 0) page.next_cursor = make_cursor(hits[n - 1].ts, hits[n - 1].pos);
  return page;
}

std::vector<std::vector<SeriesSample>> Index::samples(const std::string& gpu_id,
                                                      const std::vector<std::string>& metrics,
                                                      std::int64_t start_ns, std::int64_t end_ns) const {
  std::vector<std::vector<SeriesSample>> out(metrics.size());
  const Gpu* g = nullptr;
  {
    std::shared_lock lk(gpus_mu_);
    auto it = gpus_.find(gpu_id);
    if (it == gpus_.end()) return out;
    g = it->second.get();
  }
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> ids(metrics.size(), kNone);
  {
    std::shared_lock lk(metrics_mu_);
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      auto it = metric_ids_.find(metrics[m]);
      if (it != metric_ids_.end()) ids[m] = it->second;
    }
  }
  std::lock_guard lk(g->mu);
  g->sync_columns();
  for (std::size_t m = 0; m < ids.size(); ++m) {
    const Gpu::Column* col = nullptr;
    for (const auto& c : g->columns) {
      if (c.metric == ids[m]) col = &c;
    }
    if (col == nullptr) continue;
    std::size_t i = 0;
    if (g->ordered) {  // first sample at or after start_ns
      std::size_t hi = col->size;
      while (i < hi) {
        const std::size_t mid = i + (hi - i) / 2;
        if (col->at(mid).timestamp_ns < start_ns) {
          i = mid + 1;
        } else {
          hi = mid;
        }
      }
    }
    auto& dst = out[m];
    for (; i < col->size; ++i) {
      const Gpu::Slot& x = col->at(i);
      if (x.timestamp_ns > end_ns) {
        if (g->ordered) break;
        continue;
      }
      if (x.timestamp_ns >= start_ns) dst.push_back({x.timestamp_ns, x.value});
    }
    if (!g->ordered) {
      std::stable_sort(dst.begin(), dst.end(), [](const SeriesSample& a, const SeriesSample& b) {
        return a.timestamp_ns < b.timestamp_ns;
      });
    }
  }
  return out;
}

std::vector<Point> Index::latest(const std::string& gpu_id) const {
  const Gpu* g = nullptr;
  {
    std::shared_lock lk(gpus_mu_);
    auto it = gpus_.find(gpu_id);
    if (it == gpus_.end()) return {};
    g = it->second.get();
  }
  std::vector<Latest> l;
  {
    std::lock_guard lk(g->mu);
    l = g->latest;
  }
  const auto names = metric_names();
  std::vector<Point> out;
  for (const auto& x : l) out.push_back({x.timestamp_ns, names[x.metric], x.value});
  std::sort(out.begin(), out.end(), [](const Point& a, const Point& b) { return a.metric < b.metric; });
  return out;
}

}  // namespace rm::telemetry
