// Real Python processes (/usr/bin/python3 running python -m remotemedia.runner) behind the
// ProcessNode, with real shared-memory channels in a per-test IPC root.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "process/process_node.hpp"
#include "process/session_dir.hpp"
#include "support/video_frames.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using rm::process::ProcessNode;
using rm::process::ProcessNodeOptions;
using rm::runtime::DataPtr;
using rm::runtime::NodeErrorCode;
using rm::runtime::RuntimeData;

namespace {

struct Collect : rm::runtime::Emitter {
  std::vector<DataPtr> items;
  rm::runtime::Status emit(DataPtr d) override {
    items.push_back(std::move(d));
    return {};
  }
};

class ProcessNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path("/dev/shm") / ("rm-proc-it-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  ProcessNodeOptions options(std::string node_type, boost::json::object params = {},
                             std::string session = "") {
    static int n = 0;
    if (session.empty()) session = "sess" + std::to_string(++n);
    auto o = ProcessNodeOptions::from_env("pynode", std::move(node_type), session, std::move(params));
    o.python = "/usr/bin/python3";
    o.sdk_dir = fs::path(RM_SOURCE_DIR) / "python";
    o.ipc_root = root_;
    o.node_path = {fs::path(RM_SOURCE_DIR) / "examples" / "python" / "nodes"};
    o.data_capacity = 1 << 20;
    return o;
  }

  std::size_t files_in_root() const {
    std::size_t n = 0;
    for (auto it = fs::recursive_directory_iterator(root_); it != fs::recursive_directory_iterator(); ++it)
      ++n;
    return n;
  }

  fs::path root_;
};

// Children of this process (any thread), from /proc.
std::size_t child_processes() {
  std::size_t n = 0;
  for (const auto& t : fs::directory_iterator("/proc/self/task")) {
    std::ifstream in(t.path() / "children");
    int pid;
    while (in >> pid) ++n;
  }
  return n;
}

TEST_F(ProcessNodeTest, python_node_from_the_node_path_transforms_text) {
  ProcessNode node(options("TextUpper"));
  ASSERT_TRUE(node.initialize()) << "init";
  EXPECT_GT(node.pid(), 0);
  Collect out;
  auto s = node.process(RuntimeData::make_text("hello world", 42), out);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(out.items.size(), 1u);
  ASSERT_NE(out.items[0]->text(), nullptr);
  EXPECT_EQ(out.items[0]->text()->text, "HELLO WORLD");
  EXPECT_EQ(out.items[0]->timestamp_us, 42);
  // Zero outputs for one input is fine.
  ASSERT_TRUE(node.process(RuntimeData::make_text("", 43), out));
  EXPECT_EQ(out.items.size(), 1u);
  ASSERT_TRUE(node.flush(out));
  node.close();
  EXPECT_EQ(files_in_root(), 0u);
}

TEST_F(ProcessNodeTest, seed_simple_text_cleanup_from_the_sdk_registry_applies_its_rules) {
  boost::json::object params{{"rules", boost::json::array{"lowercase", "trim"}}};
  ProcessNode node(options("SimpleTextCleanup", params));
  auto init = node.initialize();
  ASSERT_TRUE(init) << init.error().message;
  EXPECT_TRUE(node.announced_contract().is_object());  // READY carried the contract
  Collect out;
  ASSERT_TRUE(node.process(RuntimeData::make_text("  Hello THERE  ", 0), out));
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0]->text()->text, "hello there");
}

TEST_F(ProcessNodeTest, seed_step2_node_turns_audio_into_a_transcript_json) {
  ProcessNode node(options("MyCustomNode"));
  ASSERT_TRUE(node.initialize());
  Collect out;
  std::vector<float> chunk(320, 0.5f);
  ASSERT_TRUE(node.process(RuntimeData::make_audio(chunk, 16000, 1, 20000), out));
  ASSERT_EQ(out.items.size(), 1u);
  const auto* j = out.items[0]->json();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->value.at("transcript").as_string(), "320 samples, rms 0.500");
  EXPECT_EQ(out.items[0]->timestamp_us, 20000);
}

TEST_F(ProcessNodeTest, audio_gain_writes_into_a_loaned_buffer_and_the_host_gets_the_scaled_audio) {
  ProcessNode node(options("AudioGain", {{"gain", 3.0}}));
  ASSERT_TRUE(node.initialize());
  Collect out;
  std::vector<float> chunk(960);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<float>(i) / 1000.f;
  for (int k = 0; k < 50; ++k) ASSERT_TRUE(node.process(RuntimeData::make_audio(chunk, 48000, 2, k), out));
  ASSERT_EQ(out.items.size(), 50u);
  const auto* a = out.items[49]->audio();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->sample_rate, 48000u);
  EXPECT_EQ(a->channels, 2);
  ASSERT_EQ(a->view().size(), chunk.size());
  for (std::size_t i = 0; i < chunk.size(); ++i) ASSERT_FLOAT_EQ(a->view()[i], chunk[i] * 3.f);
}

TEST_F(ProcessNodeTest, crash_of_the_python_process_is_reported_with_its_exit_code) {
  ProcessNode node(options("CrashOnInput", {{"exit_code", 7}}));
  ASSERT_TRUE(node.initialize());
  Collect out;
  auto s = node.process(RuntimeData::make_text("boom", 0), out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, NodeErrorCode::remote_failed);
  EXPECT_NE(s.error().message.find("node pynode"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("exited with code 7"), std::string::npos) << s.error().message;
  node.close();
  EXPECT_EQ(files_in_root(), 0u);
}

TEST_F(ProcessNodeTest, python_process_killed_by_a_signal_is_reported_with_the_signal) {
  ProcessNode node(options("CrashOnInput", {{"signal", SIGKILL}}));
  ASSERT_TRUE(node.initialize());
  Collect out;
  auto s = node.process(RuntimeData::make_text("boom", 0), out);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("killed by signal 9 (SIGKILL)"), std::string::npos) << s.error().message;
}

TEST_F(ProcessNodeTest, exception_in_process_is_reported_with_the_traceback_and_node_id) {
  ProcessNode node(options("RaiseOnInput"));
  ASSERT_TRUE(node.initialize());
  Collect out;
  auto s = node.process(RuntimeData::make_text("x", 0), out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, NodeErrorCode::process_failed);
  EXPECT_NE(s.error().message.find("node pynode: process failed: ValueError: cannot handle text"),
            std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("Traceback"), std::string::npos);
}

TEST_F(ProcessNodeTest, node_that_never_becomes_ready_fails_with_an_init_timeout) {
  auto o = options("SlowInit", {{"seconds", 60}});
  o.init_timeout = 3000ms;
  ProcessNode node(o);
  auto s = node.initialize();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, NodeErrorCode::timeout);
  EXPECT_NE(s.error().message.find("did not signal READY within 3000 ms"), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("warming up"), std::string::npos) << s.error().message;
  node.close();
  EXPECT_EQ(files_in_root(), 0u);
  EXPECT_EQ(child_processes(), 0u);
}

TEST_F(ProcessNodeTest, unknown_node_type_fails_initialize_listing_where_the_runner_looked) {
  ProcessNode node(options("NoSuchNode"));
  auto s = node.initialize();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, NodeErrorCode::init_failed);
  EXPECT_NE(s.error().message.find("'NoSuchNode' not found"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("examples/python/nodes"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("SimpleTextCleanup"), std::string::npos) << s.error().message;
  node.close();
  EXPECT_EQ(files_in_root(), 0u);
}

TEST_F(ProcessNodeTest, missing_interpreter_is_reported_not_hung) {
  auto o = options("TextUpper");
  o.python = "/nonexistent/python3";
  ProcessNode node(o);
  auto s = node.initialize();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("exited with code 127"), std::string::npos) << s.error().message;
}

TEST_F(ProcessNodeTest, hundred_consecutive_sessions_leave_no_files_and_no_processes) {
  for (int i = 0; i < 100; ++i) {
    ProcessNode node(options("Echo", {}, "hundred" + std::to_string(i)));
    auto s = node.initialize();
    ASSERT_TRUE(s) << s.error().message;
    Collect out;
    ASSERT_TRUE(node.process(RuntimeData::make_text("x", i), out));
    ASSERT_EQ(out.items.size(), 1u);
    node.close();
  }
  EXPECT_EQ(files_in_root(), 0u);
  EXPECT_EQ(child_processes(), 0u);
}

TEST_F(ProcessNodeTest, killed_host_leaves_a_stale_session_that_the_next_start_sweeps) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  auto opts = options("Echo", {}, "killedhost");
  pid_t host = ::fork();
  if (host == 0) {
    ::close(ready[0]);
    ProcessNode node(opts);
    if (!node.initialize()) ::_exit(1);
    int runner = node.pid();
    [[maybe_unused]] auto w = ::write(ready[1], &runner, sizeof runner);
    for (;;) ::pause();  // mid-session until killed
  }
  ::close(ready[1]);
  int runner = 0;
  ASSERT_EQ(::read(ready[0], &runner, sizeof runner), static_cast<ssize_t>(sizeof runner));
  ::close(ready[0]);
  ASSERT_TRUE(fs::exists(root_ / "killedhost" / "owner"));
  ::kill(host, SIGKILL);
  int st;
  ::waitpid(host, &st, 0);
  // The runner dies with its host (PDEATHSIG): wait until it is gone or a zombie of init.
  for (int i = 0; i < 500; ++i) {
    std::ifstream stat("/proc/" + std::to_string(runner) + "/stat");
    std::string line;
    if (!std::getline(stat, line) || line.find(") Z") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  std::ifstream stat("/proc/" + std::to_string(runner) + "/stat");
  std::string line;
  EXPECT_TRUE(!std::getline(stat, line) || line.find(") Z") != std::string::npos) << line;
  ASSERT_TRUE(fs::exists(root_ / "killedhost"));  // stale session left behind

  auto r = rm::process::sweep_stale_sessions(root_);
  EXPECT_EQ(r.removed, 1u);
  EXPECT_EQ(files_in_root(), 0u);
}

}  // namespace

TEST_F(ProcessNodeTest, abort_from_another_thread_ends_an_initialize_that_never_becomes_ready) {
  auto o = options("SlowInit", {{"seconds", 60}});
  o.init_timeout = 60000ms;
  ProcessNode node(o);
  std::thread aborter([&] {
    std::this_thread::sleep_for(1s);
    node.abort(rm::runtime::AbortReason::cancelled);
  });
  auto s = node.initialize();
  aborter.join();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, NodeErrorCode::cancelled) << s.error().message;
  node.close();
  EXPECT_EQ(files_in_root(), 0u);
  EXPECT_EQ(child_processes(), 0u);
}

TEST_F(ProcessNodeTest, an_input_larger_than_the_input_channel_names_the_node_the_size_and_ipc_input_bytes) {
  auto o = options("TextUpper");
  o.input_capacity = 8192;
  ProcessNode node(o);
  ASSERT_TRUE(node.initialize());
  Collect out;
  auto s = node.process(RuntimeData::make_text(std::string(20000, 'a'), 0), out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, NodeErrorCode::invalid_input);
  EXPECT_NE(s.error().message.find("node pynode: an input of "), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("raise ipc.input_bytes of node pynode"), std::string::npos)
      << s.error().message;
  // Nothing accepted is lost: the node still works for inputs that fit.
  ASSERT_TRUE(node.process(RuntimeData::make_text("ok", 1), out));
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0]->text()->text, "OK");
}

TEST_F(ProcessNodeTest,
       an_output_larger_than_the_output_channel_names_the_node_the_size_and_ipc_output_bytes) {
  auto o = options("TextUpper");
  o.output_capacity = 8192;
  ProcessNode node(o);
  ASSERT_TRUE(node.initialize());
  Collect out;
  auto s = node.process(RuntimeData::make_text(std::string(20000, 'a'), 0), out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, NodeErrorCode::process_failed);
  EXPECT_NE(s.error().message.find("an output of "), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("raise ipc.output_bytes of node pynode"), std::string::npos)
      << s.error().message;
  EXPECT_TRUE(out.items.empty());
}

TEST_F(ProcessNodeTest, full_hd_rgb_frames_come_back_inverted_byte_for_byte_without_setting_channel_sizes) {
  ProcessNode node(options("VideoInvert"));  // 1 MiB rings, no ipc: sizes: they grow with the data
  ASSERT_TRUE(node.initialize());
  const rm::test::FullHdFrames frames;
  Collect out;
  constexpr std::uint64_t kFrames = 8;
  for (std::uint64_t n = 0; n < kFrames; ++n) {
    auto s = node.process(frames.frame(n), out);
    ASSERT_TRUE(s) << s.error().message;
  }
  ASSERT_EQ(out.items.size(), kFrames);
  std::size_t exact = 0;
  for (std::uint64_t n = 0; n < kFrames; ++n) exact += frames.matches(*out.items[n], n, true);
  EXPECT_EQ(exact, kFrames);
  ASSERT_TRUE(node.flush(out));
  node.close();
  EXPECT_EQ(files_in_root(), 0u);  // the grown channels and the first ones are all gone
}

TEST_F(ProcessNodeTest, a_frame_beyond_the_channel_ceiling_is_an_error_naming_the_ceiling_and_the_setting) {
  auto o = options("VideoInvert");
  o.max_channel_bytes = 8u << 20;  // two 6 MB records need 16 MiB
  ProcessNode node(o);
  ASSERT_TRUE(node.initialize());
  Collect out;
  auto s = node.process(rm::test::FullHdFrames().frame(0), out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, NodeErrorCode::invalid_input);
  EXPECT_NE(s.error().message.find("node pynode: an input of 62208"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("(video 1920x1080 rgb24 #0 (6220800 bytes))"), std::string::npos);
  EXPECT_NE(s.error().message.find("up to 8388608 bytes (RM_IPC_MAX_CHANNEL_BYTES)"), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("raise ipc.input_bytes of node pynode"), std::string::npos);
  // Nothing accepted is lost: a small frame still goes through.
  auto small = RuntimeData::make_video(rm::runtime::Bytes(std::vector<std::byte>(4 * 2, std::byte{10})), 4, 2,
                                       rm::runtime::PixelFormat::gray, 1, 0);
  ASSERT_TRUE(small);
  ASSERT_TRUE(node.process(*small, out));
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0]->video()->view()[7], 245);
}
