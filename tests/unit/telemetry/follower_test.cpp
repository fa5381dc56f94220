#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include "store_util.hpp"

#include "telemetry/storage/follower.hpp"
#include "telemetry/storage/store_meta.hpp"

using namespace rm::telemetry;
using namespace rm::telemetry::test;
namespace fs = std::filesystem;

namespace {
// Names, sizes and mtimes of everything under a directory.
std::map<std::string, std::pair<std::uintmax_t, long>> listing(const fs::path& dir) {
  std::map<std::string, std::pair<std::uintmax_t, long>> out;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    ::stat(e.path().c_str(), &st);
    out[e.path().string()] = {e.is_regular_file() ? e.file_size() : 0,
                              st.st_mtim.tv_nsec + st.st_mtim.tv_sec * 1000000000L};
  }
  return out;
}
}  // namespace

TEST(Follower, sees_every_collector_directory_and_new_data_without_writing) {
  TempDir data;
  auto c1 = open_store(data.path() / "collector-a", true, 4096);
  auto c2 = open_store(data.path() / "collector-b", true, 4096);
  ASSERT_TRUE(submit_sync(*c1, make_batch("p", 1, "GPU-1", 5, 100)));
  ASSERT_TRUE(c1->checkpoint_now());
  ASSERT_TRUE(submit_sync(*c1, make_batch("p", 2, "GPU-1", 5, 200)));
  ASSERT_TRUE(submit_sync(*c2, make_batch("p", 1, "GPU-2", 5, 300)));

  const auto before = listing(data.path());
  DataDirFollower f({.data_dir = data.path(), .max_entries = 1000});
  f.poll_once();
  EXPECT_EQ(f.collectors(), 2u);
  ASSERT_EQ(f.gpus().size(), 2u);
  EXPECT_EQ(f.gpu("GPU-1")->samples, 10u);
  EXPECT_EQ(f.gpu("GPU-2")->samples, 5u);
  EXPECT_EQ(listing(data.path()), before);

  // New batches, a segment rotation and a checkpoint are all picked up.
  for (int i = 3; i <= 40; ++i) ASSERT_TRUE(submit_sync(*c1, make_batch("p", i, "GPU-1", 5, i * 100)));
  f.poll_once();
  EXPECT_EQ(f.gpu("GPU-1")->samples, 200u);
  ASSERT_TRUE(c1->checkpoint_now());
  for (int i = 41; i <= 45; ++i) ASSERT_TRUE(submit_sync(*c1, make_batch("p", i, "GPU-1", 5, i * 100)));
  f.poll_once();
  EXPECT_EQ(f.gpu("GPU-1")->samples, 225u);
}

TEST(Follower, rebuilds_when_a_checkpoint_retired_segments_it_had_not_read) {
  TempDir data;
  auto c = open_store(data.path() / "c", true, 4096);
  ASSERT_TRUE(submit_sync(*c, make_batch("p", 1, "GPU-1", 5, 100)));
  DataDirFollower f({.data_dir = data.path(), .max_entries = 1000});
  f.poll_once();
  EXPECT_EQ(f.gpu("GPU-1")->samples, 5u);
  for (int i = 2; i <= 60; ++i) ASSERT_TRUE(submit_sync(*c, make_batch("p", i, "GPU-1", 5, i * 100)));
  ASSERT_TRUE(c->checkpoint_now());
  ASSERT_TRUE(submit_sync(*c, make_batch("p", 61, "GPU-1", 5, 6100)));
  f.poll_once();
  ASSERT_TRUE(f.gpu("GPU-1"));
  EXPECT_EQ(f.gpu("GPU-1")->samples, 305u);
}

TEST(Follower, keeps_as_many_samples_per_gpu_as_the_collector_says_in_its_store_not_its_own_option) {
  TempDir data;
  // The gateway starts first, on an empty DATA_DIR, with a different fallback MAX_ENTRIES.
  DataDirFollower f({.data_dir = data.path(), .max_entries = 1000});
  f.poll_once();
  StoreOptions o;
  o.dir = data.path() / "c";
  o.checkpoints = false;
  o.max_entries = 50;
  auto s = Store::open(o);
  ASSERT_TRUE(s) << s.error().message;
  const auto meta = read_store_meta(o.dir);
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->max_entries, 50u);
  EXPECT_EQ(meta->retention_ns, 0);
  for (int i = 1; i <= 30; ++i) ASSERT_TRUE(submit_sync(**s, make_batch("p", i, "GPU-1", 5, i * 100)));
  f.poll_once();
  ASSERT_TRUE(f.gpu("GPU-1"));
  EXPECT_EQ(f.gpu("GPU-1")->samples, 50u) << "the collector keeps 50; so does the follower";
  EXPECT_EQ((*s)->index().gpu("GPU-1")->samples, 50u);
  EXPECT_EQ(f.rebuilds(), 0u) << "sizing the index is not counted as falling behind";
  // A collector restarted with another MAX_ENTRIES rewrites the file; the follower follows.
  (*s)->close();
  s = tl::unexpected(StoreError{StoreErrorCode::closed, ""});
  o.max_entries = 120;
  auto s2 = Store::open(o);
  ASSERT_TRUE(s2);
  EXPECT_EQ(read_store_meta(o.dir)->max_entries, 120u);
  f.poll_once();
  EXPECT_EQ(f.gpu("GPU-1")->samples, 120u);
}

TEST(Follower, a_malformed_store_file_falls_back_to_the_followers_own_limit) {
  TempDir data;
  auto c = open_store(data.path() / "c");
  for (int i = 1; i <= 30; ++i) ASSERT_TRUE(submit_sync(*c, make_batch("p", i, "GPU-1", 5, i * 100)));
  { std::ofstream(data.path() / "c" / kStoreMetaFile) << "max_entries lots\n"; }
  EXPECT_FALSE(read_store_meta(data.path() / "c"));
  DataDirFollower f({.data_dir = data.path(), .max_entries = 40});
  f.poll_once();
  EXPECT_EQ(f.gpu("GPU-1")->samples, 40u);
}
