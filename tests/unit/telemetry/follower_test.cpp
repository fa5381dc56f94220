#include <sys/stat.h>

#include <gtest/gtest.h>

#include "store_util.hpp"
#include "telemetry/storage/follower.hpp"

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
