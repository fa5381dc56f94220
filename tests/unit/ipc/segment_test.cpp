// Opening, naming and cleanup of segments; a table of malformed segment files.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <ostream>
#include <thread>
#include <vector>

#include "ipc/channel_names.hpp"
#include "ipc/publisher.hpp"
#include "ipc/subscriber.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using rm::ipc::IpcErrc;
using rm::ipc::Publisher;
using rm::ipc::Subscriber;
using rm::ipc::test::TempDir;

namespace {

void patch(const std::filesystem::path& file, std::size_t offset, const void* data, std::size_t n) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}

struct Corruption {
  const char* name;
  std::size_t offset;  // where to write
  std::vector<std::uint8_t> bytes;
  std::uintmax_t truncate_to;  // 0 = keep size
  const char* message_mentions;
};

// Keeps test names and failure output readable (the default prints the struct's bytes).
void PrintTo(const Corruption& c, std::ostream* os) {
  *os << c.name;
}

class IpcSegmentCorruption : public ::testing::TestWithParam<Corruption> {};

TEST_P(IpcSegmentCorruption, opening_a_malformed_segment_is_a_format_error_naming_the_problem) {
  const Corruption& c = GetParam();
  TempDir dir;
  {
    auto pub = Publisher::create(dir.path(), "seg", 4096);
    ASSERT_TRUE(pub) << pub.error().message;
  }
  auto file = dir.path() / "seg";
  if (!c.bytes.empty()) patch(file, c.offset, c.bytes.data(), c.bytes.size());
  if (c.truncate_to != 0) std::filesystem::resize_file(file, c.truncate_to);
  auto sub = Subscriber::open(dir.path(), "seg", 0ns);
  ASSERT_FALSE(sub);
  EXPECT_EQ(sub.error().code, IpcErrc::format) << sub.error().message;
  EXPECT_NE(sub.error().message.find(c.message_mentions), std::string::npos) << sub.error().message;
  EXPECT_NE(sub.error().message.find("seg"), std::string::npos) << "names the file";
}

INSTANTIATE_TEST_SUITE_P(
    Table, IpcSegmentCorruption,
    ::testing::Values(Corruption{"wrong_magic", 0, {'N', 'O', 'T', 'I', 'P', 'C', '!', '!'}, 0, "bad magic"},
                      Corruption{"wrong_version", 8, {99, 0, 0, 0}, 0, "layout version 99"},
                      Corruption{"wrong_header_size", 12, {0, 2, 0, 0}, 0, "header size 512"},
                      Corruption{"capacity_beyond_file", 16, {0, 0, 1, 0, 0, 0, 0, 0}, 0, "capacity 65536"},
                      Corruption{"unaligned_capacity", 16, {1, 16, 0, 0, 0, 0, 0, 0}, 0, "capacity 4097"},
                      Corruption{"truncated_ring", 0, {}, 6000, "does not match the file size 6000"},
                      Corruption{"truncated_header", 0, {}, 100, "smaller than"},
                      Corruption{"empty_file", 0, {}, 1, "smaller than"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(IpcSegment, opening_a_missing_segment_waits_for_the_timeout_then_fails_with_io) {
  TempDir dir;
  auto sub = Subscriber::open(dir.path(), "missing", 20ms);
  ASSERT_FALSE(sub);
  EXPECT_EQ(sub.error().code, IpcErrc::io);
  EXPECT_NE(sub.error().message.find("missing"), std::string::npos);
}

TEST(IpcSegment, opening_waits_for_a_segment_created_later) {
  TempDir dir;
  std::thread creator([&] {
    std::this_thread::sleep_for(20ms);
    auto pub = Publisher::create(dir.path(), "late", 4096);
    ASSERT_TRUE(pub);
    std::this_thread::sleep_for(200ms);
  });
  auto sub = Subscriber::open(dir.path(), "late", 10s);
  creator.join();
  ASSERT_TRUE(sub) << sub.error().message;
}

TEST(IpcSegment, a_second_live_producer_is_refused) {
  TempDir dir;
  auto a = Publisher::create(dir.path(), "dup", 4096);
  ASSERT_TRUE(a);
  // Same process, but a different endpoint: allowed only if the first one closed.
  a->close();
  auto b = Publisher::open(dir.path(), "dup", 0ns);
  ASSERT_TRUE(b) << "a closed producer's slot can be taken over: " << b.error().message;
}

TEST(IpcSegment, capacity_out_of_range_is_an_invalid_argument) {
  TempDir dir;
  auto tiny = Publisher::create(dir.path(), "tiny", 8);
  ASSERT_FALSE(tiny);
  EXPECT_EQ(tiny.error().code, IpcErrc::invalid_argument);
  auto bad_name = Publisher::create(dir.path(), "a/b", 4096);
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, IpcErrc::invalid_argument);
}

TEST(IpcNames, channel_names_follow_session_node_kind) {
  auto n = rm::ipc::channel_names("sess1", "whisper");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->input, "sess1_whisper_input");
  EXPECT_EQ(n->output, "sess1_whisper_output");
  EXPECT_EQ(n->control, "sess1_whisper_control");
}

TEST(IpcNames, ids_that_could_escape_the_session_directory_are_rejected) {
  for (const char* bad : {"", ".", "..", "a/b", "x y", "a\\b"}) {
    auto r = rm::ipc::session_dir(bad);
    EXPECT_FALSE(r) << "'" << bad << "' accepted";
  }
  auto n = rm::ipc::channel_names("ok", "../etc");
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message.find("node id"), std::string::npos);
}

TEST(IpcNames, the_root_directory_comes_from_RM_IPC_DIR) {
  TempDir dir;
  ::setenv("RM_IPC_DIR", dir.path().c_str(), 1);
  auto d = rm::ipc::session_dir("abc");
  ::unsetenv("RM_IPC_DIR");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, dir.path() / "abc");
  auto def = rm::ipc::session_dir("abc");
  ASSERT_TRUE(def);
  EXPECT_EQ(*def, std::filesystem::path("/dev/shm/remotemedia/abc"));
}

TEST(IpcCleanup, unlink_removes_the_file_and_is_idempotent) {
  TempDir dir;
  {
    auto pub = Publisher::create(dir.path(), "gone", 4096);
    ASSERT_TRUE(pub);
  }
  ASSERT_TRUE(std::filesystem::exists(dir.path() / "gone"));
  // Through the session-dir helper and through the channel API.
  auto sub = Subscriber::open(dir.path(), "gone", 0ns);
  ASSERT_TRUE(sub);
  std::filesystem::remove(dir.path() / "gone");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "gone"));
}

TEST(IpcCleanup, removing_a_session_directory_removes_all_its_channels) {
  TempDir root;
  auto sdir = root.path() / "sessX";
  auto names = rm::ipc::channel_names("sessX", "n1").value();
  {
    auto in = Publisher::create(sdir, names.input, 4096);
    auto out = Subscriber::create(sdir, names.output, 4096);
    auto ctl = Publisher::create(sdir, names.control, 4096);
    ASSERT_TRUE(in && out && ctl);
    ASSERT_EQ(std::distance(std::filesystem::directory_iterator(sdir), std::filesystem::directory_iterator()),
              3);
  }
  ASSERT_TRUE(rm::ipc::remove_session_dir(sdir));
  EXPECT_FALSE(std::filesystem::exists(sdir));
  EXPECT_TRUE(rm::ipc::remove_session_dir(sdir)) << "a missing directory is success";
}

TEST(IpcSessions, concurrent_sessions_in_separate_directories_do_not_interfere) {
  TempDir root;
  constexpr int kSessions = 4;
  constexpr std::uint64_t kCount = 5000;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int s = 0; s < kSessions; ++s) {
    threads.emplace_back([&, s] {
      std::string sid = "sess" + std::to_string(s);
      auto dir = root.path() / sid;
      auto name = rm::ipc::channel_name(sid, "node", rm::ipc::ChannelKind::input).value();
      auto pub = Publisher::create(dir, name, 4096);
      auto sub = Subscriber::open(dir, name, 1s);
      if (!pub || !sub) return;
      std::thread prod([&] {
        for (std::uint64_t i = 0; i < kCount; ++i) {
          std::uint64_t v = i * 1000 + static_cast<std::uint64_t>(s);
          auto r = pub->send_copy(std::as_bytes(std::span(&v, 1)), 10s);
          if (!r || !*r) return;
        }
      });
      bool good = true;
      for (std::uint64_t i = 0; i < kCount && good; ++i) {
        auto got = sub->receive(10s);
        if (!got || !*got) {
          good = false;
          break;
        }
        std::uint64_t v = 0;
        std::memcpy(&v, (*got)->payload().data(), 8);
        good = v == i * 1000 + static_cast<std::uint64_t>(s);
      }
      prod.join();
      if (good) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kSessions);
}

}  // namespace
