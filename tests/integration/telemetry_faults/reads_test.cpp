// The gateway's view of a DATA_DIR: one replay shared with the collector (both readers end
// with the same samples after any corruption) and reads that stay consistent while
// checkpoints retire segments under the follower.
#include <atomic>

#include "fault_util.hpp"
#include "telemetry/storage/follower.hpp"

namespace rm::telemetry::faults {
namespace {

Batch known_batch(const std::string& producer, std::uint64_t seq, const std::string& gpu_id, std::size_t n) {
  Batch b;
  b.producer = producer;
  b.seq = seq;
  auto g = std::make_shared<GpuInfo>();
  g->id = gpu_id;
  g->uuid = gpu_id;
  g->hostname = "host-reads";
  b.gpus.push_back(g);
  b.metrics.push_back("DCGM_FI_DEV_GPU_UTIL");
  for (std::size_t k = 0; k < n; ++k) {
    b.samples.push_back({0, 0, static_cast<std::int64_t>(seq * 1000 + k + 1), static_cast<double>(k)});
  }
  return b;
}

tl::expected<Ack, StoreError> submit_sync(Store& s, Batch b) {
  std::promise<tl::expected<Ack, StoreError>> p;
  auto f = p.get_future();
  s.submit(std::move(b), [&p](tl::expected<Ack, StoreError> r) { p.set_value(std::move(r)); });
  return f.get();
}

// Every (gpu, timestamp) a view holds.
std::multiset<std::pair<std::string, std::int64_t>> samples_of(const TelemetryView& v) {
  std::multiset<std::pair<std::string, std::int64_t>> out;
  for (const auto& g : v.gpus()) {
    TelemetryQuery q;
    q.gpu_id = g.info.id;
    q.limit = 10000;
    while (true) {
      auto page = v.query(q);
      if (!page) break;
      for (const auto& p : page->points) out.emplace(g.info.id, p.timestamp_ns);
      if (!page->next_cursor) break;
      q.cursor = *page->next_cursor;
    }
  }
  return out;
}

std::unique_ptr<Store> open_store(const fs::path& dir, bool checkpoints, std::size_t segment_bytes) {
  StoreOptions o;
  o.dir = dir;
  o.checkpoints = checkpoints;
  o.segment_bytes = segment_bytes;
  o.max_entries = 1'000'000;
  o.checkpoint_interval = std::chrono::milliseconds(20);
  o.min_checkpoint_spacing = std::chrono::milliseconds(0);
  auto s = Store::open(o);
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

void flip_byte(const fs::path& p, std::size_t at) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x5a));
}

struct Corruption {
  const char* name;
  std::function<void(const fs::path& wal, const std::vector<std::uint64_t>& segs)> apply;
  bool loses = true;  // false: not corruption at all, both readers keep every sample
};

TEST(TelemetryFaults, the_follower_and_the_collector_recover_the_same_samples_after_any_corruption) {
  const std::vector<Corruption> table = {
      {"flipped byte in the middle of an older segment",
       [](const fs::path& wal, const auto& segs) { flip_byte(wal / segment_name(segs[1]), 2000); }},
      {"flipped byte in the last segment",
       [](const fs::path& wal, const auto& segs) {
         const auto p = wal / segment_name(segs.back());
         flip_byte(p, fs::file_size(p) / 2);
       }},
      {"last segment cut inside a record",
       [](const fs::path& wal, const auto& segs) {
         const auto p = wal / segment_name(segs.back());
         fs::resize_file(p, fs::file_size(p) - 7);
       }},
      // A pre-allocated segment's unwritten reserve whose cut was lost: the end of that
      // segment, not corruption.
      {"zero-filled tail on an older segment",
       [](const fs::path& wal, const auto& segs) {
         std::ofstream(wal / segment_name(segs[0]), std::ios::app | std::ios::binary)
             << std::string(300, '\0');
       },
       false},
      // An older segment's last bytes never reached the disk (zeros), a later one's did.
      {"zeroed tail of an older segment followed by later segments",
       [](const fs::path& wal, const auto& segs) {
         const auto p = wal / segment_name(segs[1]);
         const auto size = fs::file_size(p);
         fs::resize_file(p, size - 40);
         fs::resize_file(p, size);
       }},
      {"wrong header on an older segment",
       [](const fs::path& wal, const auto& segs) { flip_byte(wal / segment_name(segs[2]), 0); }},
      {"an older segment cut inside a record",
       [](const fs::path& wal, const auto& segs) {
         const auto p = wal / segment_name(segs[1]);
         fs::resize_file(p, fs::file_size(p) - 11);
       }},
  };
  for (const auto& c : table) {
    SCOPED_TRACE(c.name);
    ScratchDir data("corrupt");
    const fs::path dir = data.path() / "collector-a";
    {
      auto s = open_store(dir, false, 4096);
      ASSERT_TRUE(s);
      for (std::uint64_t seq = 1; seq <= 40; ++seq) {
        ASSERT_TRUE(submit_sync(*s, known_batch("p", seq, seq % 2 ? "GPU-a" : "GPU-b", 20)));
      }
      s->close();
    }
    const auto segs = list_segments(dir / "wal");
    ASSERT_GE(segs.size(), 4u);
    c.apply(dir / "wal", segs);

    DataDirFollower before({.data_dir = data.path(), .max_entries = 1'000'000});
    before.poll_once();
    const auto follower_saw = samples_of(before);
    auto s = open_store(dir, false, 4096);
    ASSERT_TRUE(s);
    const auto store_has = samples_of(s->index());
    s->close();
    DataDirFollower after({.data_dir = data.path(), .max_entries = 1'000'000});
    after.poll_once();
    EXPECT_EQ(follower_saw.size(), store_has.size());
    EXPECT_TRUE(follower_saw == store_has) << "the follower served samples the collector then dropped";
    EXPECT_TRUE(samples_of(after) == store_has);
    if (c.loses) {
      EXPECT_LT(store_has.size(), 800u) << "the corruption cost some samples";
    } else {
      EXPECT_EQ(store_has.size(), 800u);
    }
  }
}

TEST(TelemetryFaults, polls_during_checkpoints_never_see_a_count_go_down_or_a_gpu_vanish) {
  ScratchDir data("reads");
  auto store = open_store(data.path() / "collector-a", true, 64 * 1024);
  ASSERT_TRUE(store);
  DataDirFollower follower(
      {.data_dir = data.path(), .max_entries = 1'000'000, .poll_interval = std::chrono::milliseconds(150)});
  follower.start();
  const std::vector<std::string> gpus = {"GPU-0", "GPU-1", "GPU-2", "GPU-3"};
  std::atomic<bool> writing{true};
  std::atomic<std::uint64_t> polls{0}, violations{0};
  std::string first_violation;
  std::thread reader([&] {
    std::map<std::string, std::uint64_t> seen;
    while (writing) {
      auto list = follower.gpus();
      std::map<std::string, std::uint64_t> now;
      for (const auto& g : list) now[g.info.id] = g.samples;
      for (const auto& [id, n] : seen) {
        auto one = follower.gpu(id);
        const bool vanished = !now.count(id) || !one;
        if (vanished || now[id] < n || one->samples < n) {
          if (violations++ == 0) {
            first_violation = fmt::format("{}: had {} samples, now {}", id, n, vanished ? 0 : now[id]);
          }
        }
      }
      for (const auto& [id, n] : now) seen[id] = std::max(seen[id], n);
      polls++;
    }
  });
  std::uint64_t submitted = 0;
  for (std::uint64_t seq = 1; seq <= 3000; ++seq) {
    ASSERT_TRUE(submit_sync(*store, known_batch("p", seq, gpus[seq % gpus.size()], 50)));
    submitted += 50;
  }
  writing = false;
  reader.join();
  follower.stop();
  follower.poll_once();
  EXPECT_EQ(violations.load(), 0u) << first_violation;
  EXPECT_GT(polls.load(), 100u);
  EXPECT_GE(store->stats().checkpoints.load(), 3u);
  EXPECT_GE(follower.rebuilds(), 1u) << "the follower fell behind a checkpoint at least once";
  std::uint64_t total = 0;
  for (const auto& g : follower.gpus()) total += g.samples;
  EXPECT_EQ(total, submitted);
  store->close();
}

}  // namespace
}  // namespace rm::telemetry::faults
