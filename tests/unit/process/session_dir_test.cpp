#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "process/session_dir.hpp"

namespace fs = std::filesystem;
using rm::process::owner_alive;
using rm::process::owner_record;
using rm::process::SessionDirLease;
using rm::process::sweep_stale_sessions;

namespace {

fs::path temp_root(const char* name) {
  auto p = fs::temp_directory_path() / ("rm-proc-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// A pid that certainly belonged to a process that is gone now.
pid_t dead_pid() {
  pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  int st;
  ::waitpid(p, &st, 0);
  return p;
}

TEST(SessionDir, first_lease_writes_the_owner_and_last_lease_removes_the_directory) {
  auto root = temp_root("lease");
  {
    auto a = SessionDirLease::acquire(root, "s1");
    ASSERT_TRUE(a);
    std::ifstream in(root / "s1" / "owner");
    std::string rec;
    std::getline(in, rec);
    EXPECT_EQ(rec, owner_record());
    auto b = SessionDirLease::acquire(root, "s1");
    ASSERT_TRUE(b);
    std::ofstream(root / "s1" / "chan").put('x');
    a->release();
    EXPECT_TRUE(fs::exists(root / "s1" / "chan"));  // b still holds it
  }
  EXPECT_FALSE(fs::exists(root / "s1"));
  fs::remove_all(root);
}

TEST(SessionDir, owner_record_of_this_process_is_alive_and_of_a_dead_pid_is_not) {
  EXPECT_TRUE(owner_alive(owner_record()));
  EXPECT_FALSE(owner_alive(std::to_string(dead_pid()) + " 1"));
  EXPECT_FALSE(owner_alive("garbage"));
  // Same pid, different start time: the pid was reused by another process.
  EXPECT_FALSE(owner_alive(std::to_string(::getpid()) + " 1"));
}

TEST(SessionDir, sweep_removes_sessions_of_dead_owners_and_keeps_live_and_unowned_ones) {
  auto root = temp_root("sweep");
  fs::create_directories(root / "stale");
  std::ofstream(root / "stale" / "owner") << dead_pid() << " 1\n";
  std::ofstream(root / "stale" / "s_n_input").put('x');
  fs::create_directories(root / "unowned");
  fs::create_directories(root / "live");
  std::ofstream(root / "live" / "owner") << owner_record() << "\n";
  auto held = SessionDirLease::acquire(root, "held");
  ASSERT_TRUE(held);

  auto r = sweep_stale_sessions(root);
  EXPECT_EQ(r.removed, 1u);
  EXPECT_EQ(r.kept, 3u);
  EXPECT_FALSE(fs::exists(root / "stale"));
  EXPECT_TRUE(fs::exists(root / "unowned"));
  EXPECT_TRUE(fs::exists(root / "live"));
  EXPECT_TRUE(fs::exists(root / "held"));
  held->release();
  fs::remove_all(root);
}

TEST(SessionDir, sweep_of_a_missing_root_does_nothing) {
  auto r = sweep_stale_sessions("/nonexistent/remotemedia-root");
  EXPECT_EQ(r.removed + r.kept, 0u);
}

}  // namespace
