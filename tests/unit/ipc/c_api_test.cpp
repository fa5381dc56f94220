// The C ABI exactly as the Python SDK uses it: dlopen() the shipped libremotemedia_ipc.so and
// resolve the rm_ipc_* symbols by name.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "ipc/c_api.h"
#include "test_util.hpp"

namespace {

struct Api {
  void* handle = nullptr;
  decltype(&rm_ipc_channel_create) create = nullptr;
  decltype(&rm_ipc_channel_open) open = nullptr;
  decltype(&rm_ipc_channel_close) close = nullptr;
  decltype(&rm_ipc_channel_unlink) unlink = nullptr;
  decltype(&rm_ipc_loan) loan = nullptr;
  decltype(&rm_ipc_send) send = nullptr;
  decltype(&rm_ipc_send_copy) send_copy = nullptr;
  decltype(&rm_ipc_receive) receive = nullptr;
  decltype(&rm_ipc_release) release = nullptr;
  decltype(&rm_ipc_peer_alive) peer_alive = nullptr;
  decltype(&rm_ipc_max_record) max_record = nullptr;
  decltype(&rm_ipc_capacity) capacity = nullptr;
  decltype(&rm_ipc_last_error) last_error = nullptr;
  decltype(&rm_ipc_layout_version) layout_version = nullptr;

  Api() {
    std::string path = std::string(RM_BINARY_DIR) + "/ipc/libremotemedia_ipc.so";
    // RTLD_NODELETE: the library's heartbeat thread may still be winding down at exit.
    handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (handle == nullptr) return;
    sym(create, "rm_ipc_channel_create");
    sym(open, "rm_ipc_channel_open");
    sym(close, "rm_ipc_channel_close");
    sym(unlink, "rm_ipc_channel_unlink");
    sym(loan, "rm_ipc_loan");
    sym(send, "rm_ipc_send");
    sym(send_copy, "rm_ipc_send_copy");
    sym(receive, "rm_ipc_receive");
    sym(release, "rm_ipc_release");
    sym(peer_alive, "rm_ipc_peer_alive");
    sym(max_record, "rm_ipc_max_record");
    sym(capacity, "rm_ipc_capacity");
    sym(last_error, "rm_ipc_last_error");
    sym(layout_version, "rm_ipc_layout_version");
  }
  template <typename F>
  void sym(F& f, const char* name) {
    f = reinterpret_cast<F>(::dlsym(handle, name));
  }
  bool complete() const {
    return handle && create && open && close && unlink && loan && send && send_copy && receive && release &&
           peer_alive && max_record && capacity && last_error && layout_version;
  }
};

Api& api() {
  static Api a;
  return a;
}

TEST(IpcCApi, the_shared_library_loads_and_exports_every_function) {
  ASSERT_TRUE(api().handle) << ::dlerror();
  EXPECT_TRUE(api().complete());
  EXPECT_EQ(api().layout_version(), 1u);
  // Only the C ABI is exported: no C++ symbols leak out.
  EXPECT_EQ(::dlsym(api().handle,
                    "_ZN2rm3ipc6detail7Channel6createERKNSt10filesystem7__cxx114pathESt17basic_string_"
                    "viewIcSt11char_traitsIcEEmNS1_4RoleERKNS0_14ChannelOptionsE"),
            nullptr);
}

TEST(IpcCApi, records_round_trip_between_two_processes_through_loan_send_receive_release) {
  ASSERT_TRUE(api().complete());
  rm::ipc::test::TempDir dir;
  const std::string d = dir.path().string();
  rm_ipc_channel* cons = nullptr;
  ASSERT_EQ(api().create(d.c_str(), "c1_n_output", 1 << 16, RM_IPC_ROLE_CONSUMER, &cons), RM_IPC_OK)
      << api().last_error();
  EXPECT_EQ(api().capacity(cons), 1u << 16);
  EXPECT_EQ(api().max_record(cons), (1u << 16) - 8);
  constexpr int kCount = 1000;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rm_ipc_channel* prod = nullptr;
    if (api().open(d.c_str(), "c1_n_output", RM_IPC_ROLE_PRODUCER, 5000, &prod) != RM_IPC_OK) ::_exit(2);
    for (int i = 0; i < kCount; ++i) {
      void* p = nullptr;
      std::size_t n = rm::ipc::test::message_size(static_cast<std::uint64_t>(i), 3000);
      if (api().loan(prod, n + 100, &p, 10000) != RM_IPC_OK) ::_exit(3);
      rm::ipc::test::fill_message(static_cast<std::byte*>(p), n, static_cast<std::uint64_t>(i));
      if (api().send(prod, n) != RM_IPC_OK) ::_exit(4);
    }
    api().close(prod);
    ::_exit(0);
  }
  for (int i = 0; i < kCount; ++i) {
    const void* p = nullptr;
    std::uint64_t n = 0;
    ASSERT_EQ(api().receive(cons, &p, &n, 30000), RM_IPC_OK) << api().last_error();
    ASSERT_TRUE(
        rm::ipc::test::check_message(static_cast<const std::byte*>(p), n, static_cast<std::uint64_t>(i)));
    ASSERT_EQ(api().release(cons), RM_IPC_OK);
  }
  const void* p = nullptr;
  std::uint64_t n = 0;
  EXPECT_EQ(api().receive(cons, &p, &n, 30000), RM_IPC_PEER_GONE);
  EXPECT_NE(std::string(api().last_error()).find("c1_n_output"), std::string::npos);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  api().close(cons);
  EXPECT_EQ(api().unlink(d.c_str(), "c1_n_output"), RM_IPC_OK);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "c1_n_output"));
}

TEST(IpcCApi, return_codes_distinguish_empty_misuse_and_bad_arguments) {
  ASSERT_TRUE(api().complete());
  rm::ipc::test::TempDir dir;
  const std::string d = dir.path().string();
  rm_ipc_channel* prod = nullptr;
  rm_ipc_channel* cons = nullptr;
  ASSERT_EQ(api().create(d.c_str(), "c2", 4096, RM_IPC_ROLE_PRODUCER, &prod), RM_IPC_OK);
  ASSERT_EQ(api().open(d.c_str(), "c2", RM_IPC_ROLE_CONSUMER, 0, &cons), RM_IPC_OK);
  EXPECT_EQ(api().peer_alive(cons), 1);
  const void* p = nullptr;
  std::uint64_t n = 0;
  EXPECT_EQ(api().receive(cons, &p, &n, 0), RM_IPC_EMPTY);
  EXPECT_EQ(api().release(cons), RM_IPC_ERR_STATE);
  EXPECT_EQ(api().send(prod, 1), RM_IPC_ERR_STATE);
  void* w = nullptr;
  EXPECT_EQ(api().loan(prod, 5000, &w, 0), RM_IPC_ERR_INVALID);
  EXPECT_NE(std::string(api().last_error()).find("4088"), std::string::npos) << api().last_error();
  EXPECT_EQ(api().create(d.c_str(), "c3", 4096, 7, &prod), RM_IPC_ERR_INVALID);
  rm_ipc_channel* missing = nullptr;
  EXPECT_EQ(api().open(d.c_str(), "nope", RM_IPC_ROLE_CONSUMER, 0, &missing), RM_IPC_ERR_IO);
  EXPECT_EQ(missing, nullptr);
  // Fill the ring: loan with timeout 0 then reports EMPTY (no space), not an error.
  int sent = 0;
  while (api().send_copy(prod, "0123456789", 10, 0) == RM_IPC_OK) ++sent;
  EXPECT_GT(sent, 0);
  EXPECT_EQ(api().send_copy(prod, "0123456789", 10, 0), RM_IPC_EMPTY);
  api().close(cons);
  EXPECT_EQ(api().send_copy(prod, "x", 1, 0), RM_IPC_PEER_GONE);
  api().close(prod);
}

TEST(IpcCApi, the_last_error_is_per_thread) {
  ASSERT_TRUE(api().complete());
  rm_ipc_channel* missing = nullptr;
  EXPECT_EQ(api().open("/nonexistent-dir-rm", "x", RM_IPC_ROLE_CONSUMER, 0, &missing), RM_IPC_ERR_IO);
  std::string mine = api().last_error();
  std::string other = "unset";
  std::thread([&] { other = api().last_error(); }).join();
  EXPECT_NE(mine.find("nonexistent-dir-rm"), std::string::npos);
  EXPECT_EQ(other, "");
}

TEST(IpcCApi, opening_a_file_that_is_not_a_segment_is_a_format_error) {
  ASSERT_TRUE(api().complete());
  rm::ipc::test::TempDir dir;
  {
    std::FILE* f = std::fopen((dir.path() / "junk").c_str(), "wb");
    std::string junk(8192, 'j');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  rm_ipc_channel* ch = nullptr;
  EXPECT_EQ(api().open(dir.path().c_str(), "junk", RM_IPC_ROLE_CONSUMER, 0, &ch), RM_IPC_ERR_FORMAT);
  EXPECT_NE(std::string(api().last_error()).find("bad magic"), std::string::npos);
}

}  // namespace
