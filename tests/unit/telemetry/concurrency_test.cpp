// Readers query the index while the store ingests (run under ThreadSanitizer in CI).
#include <thread>

#include <gtest/gtest.h>

#include "store_util.hpp"

using namespace rm::telemetry;
using namespace rm::telemetry::test;

TEST(IndexConcurrency, readers_see_consistent_pages_while_batches_are_ingested) {
  TempDir dir;
  auto s = open_store(dir.path(), true, 8192);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 1; i <= 200; ++i) {
      ASSERT_TRUE(submit_sync(*s, make_batch("p", i, fmt::format("GPU-{}", i % 4), 10, i * 100)));
    }
    done = true;
  });
  std::vector<std::thread> readers;
  std::atomic<std::size_t> pages{0};
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        for (const auto& g : s->index().gpus()) {
          auto page = s->index().query({.gpu_id = g.info.id, .limit = 50});
          ASSERT_TRUE(page);
          for (std::size_t k = 1; k < page->points.size(); ++k) {
            ASSERT_LE(page->points[k - 1].timestamp_ns, page->points[k].timestamp_ns);
          }
          (void)s->index().latest(g.info.id);
          (void)s->index().hosts();
          ++pages;
        }
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(s->index().sample_count(), 2000u);
  EXPECT_GT(pages.load(), 0u);
}
