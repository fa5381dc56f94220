// The example manifests run through the real executor: native nodes in process, Python nodes
// as host processes created by the process NodeProvider (linked in via rm::process).
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "runtime/executor.hpp"
#include "runtime/manifest.hpp"

namespace fs = std::filesystem;
using namespace rm::runtime;

namespace {

class MixedPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path("/dev/shm") / ("rm-proc-mixed-" + std::to_string(::getpid()) + "-" + info->name());
    fs::create_directories(root_);
    ::setenv("RM_IPC_DIR", root_.c_str(), 1);
    ::setenv("REMOTEMEDIA_PYTHON", "/usr/bin/python3", 1);
    ::setenv("RM_PYTHON_SDK_DIR", (fs::path(RM_SOURCE_DIR) / "python").c_str(), 1);
    ::setenv("REMOTEMEDIA_NODE_PATH", (fs::path(RM_SOURCE_DIR) / "examples/python/nodes").c_str(), 1);
  }
  void TearDown() override { fs::remove_all(root_); }

  static Manifest load(const char* name) {
    auto m = Manifest::from_file(fs::path(RM_SOURCE_DIR) / "examples/python" / name);
    EXPECT_TRUE(m) << (m ? "" : m.error().to_string());
    return std::move(*m);
  }
  std::size_t files_in_root() const {
    std::size_t n = 0;
    for (auto it = fs::recursive_directory_iterator(root_); it != fs::recursive_directory_iterator(); ++it)
      ++n;
    return n;
  }
  fs::path root_;
};

TEST_F(MixedPipeline, native_and_python_nodes_run_in_one_text_pipeline) {
  PipelineExecutor exec(load("mixed_text_pipeline.yaml"));
  auto session = exec.start_session();
  ASSERT_TRUE(session) << session.error().message;
  auto& s = **session;
  ASSERT_TRUE(s.push("text_source", RuntimeData::make_text("  hello   mixed  world ", 1)));
  ASSERT_TRUE(s.push("text_source", RuntimeData::make_text("second", 2)));
  ASSERT_TRUE(s.close_input("text_source"));
  std::vector<std::string> got;
  while (auto o = s.next_output()) {
    if (o->data->text()) got.push_back(o->data->text()->text);
  }
  auto st = s.wait();
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(got, (std::vector<std::string>{"HELLO MIXED WORLD", "SECOND"}));
  session->reset();
  EXPECT_EQ(files_in_root(), 0u);
}

TEST_F(MixedPipeline, python_audio_node_between_native_nodes_scales_every_chunk) {
  PipelineExecutor exec(load("audio_gain_pipeline.yaml"));
  auto session = exec.start_session();
  ASSERT_TRUE(session) << session.error().message;
  auto& s = **session;
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(
        s.push("audio_source", RuntimeData::make_audio(std::vector<float>(320, 0.8f), 16000, 1, i * 20000)));
  ASSERT_TRUE(s.close_input("audio_source"));
  int chunks = 0;
  while (auto o = s.next_output()) {
    if (const auto* a = o->data->audio()) {
      ASSERT_EQ(a->view().size(), 320u);
      EXPECT_FLOAT_EQ(a->view()[319], 0.4f);
      EXPECT_EQ(o->data->timestamp_us, chunks * 20000);
      ++chunks;
    }
  }
  ASSERT_TRUE(s.wait());
  EXPECT_EQ(chunks, 20);
}

TEST_F(MixedPipeline, python_crash_ends_the_session_with_an_error_naming_the_node_and_exit_code) {
  auto m = Manifest::from_string(R"({"version":"v1","metadata":{"name":"crash"},
    "nodes":[{"id":"native","node_type":"PassThrough"},
             {"id":"crasher","node_type":"CrashOnInput","runtime_hint":"cpython","params":{"exit_code":9}}],
    "connections":[{"from":"src","to":"native"},{"from":"native","to":"crasher"}]})");
  ASSERT_TRUE(m) << m.error().to_string();
  PipelineExecutor exec(std::move(*m));
  auto session = exec.start_session();
  ASSERT_TRUE(session) << session.error().message;
  auto& s = **session;
  (void)s.push("src", RuntimeData::make_text("x", 0));
  s.close_all_inputs();
  while (s.next_output()) {
  }
  auto st = s.wait();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().node_id, "crasher");
  EXPECT_NE(st.error().message.find("exited with code 9"), std::string::npos) << st.error().message;
  session->reset();
  EXPECT_EQ(files_in_root(), 0u);
}

}  // namespace

namespace {

// SimpleTextCleanup (an SDK built-in) declares accepts/emits text and json in its class; the
// runner reports that with READY. Validation cannot know it (nothing in the manifest), so the
// session checks it against AudioResample (audio only) before taking the first input.
TEST_F(MixedPipeline, a_python_node_whose_class_contract_conflicts_fails_the_session_before_the_first_input) {
  auto m = Manifest::from_string(R"(
version: v1
nodes:
  - {id: cleanup, node_type: SimpleTextCleanup, runtime_hint: cpython}
  - {id: resample, node_type: AudioResample, params: {target_rate: 16000}}
connections: [{from: text_source, to: cleanup}, {from: cleanup, to: resample}]
)");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_FALSE(m->find_node("cleanup")->contract);
  PipelineExecutor exec(std::move(*m));
  std::size_t outputs = 0;
  auto session = exec.start_session({.on_output = [&](const std::string&, const DataPtr&) { ++outputs; }});
  ASSERT_TRUE(session) << session.error().message;
  auto& s = **session;
  auto pushed = s.push("text_source", RuntimeData::make_text("hello", 0));
  ASSERT_FALSE(pushed);
  const std::string want =
      "connection cleanup -> resample: cleanup emits only text, json, resample accepts only audio (contracts "
      "reported by the nodes at start-up)";
  EXPECT_EQ(pushed.error().message, want);
  EXPECT_EQ(pushed.error().node_id, "resample");
  EXPECT_EQ(pushed.error().code, NodeErrorCode::invalid_input);
  auto st = s.wait();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, want);
  EXPECT_EQ(outputs, 0u);
  session->reset();
  EXPECT_EQ(files_in_root(), 0u);
}

TEST_F(MixedPipeline, a_python_node_whose_class_contract_fits_runs_as_before) {
  auto m = Manifest::from_string(R"(
version: v1
nodes:
  - {id: cleanup, node_type: SimpleTextCleanup, runtime_hint: cpython}
  - {id: upper, node_type: TextCleanup, params: {rules: [uppercase]}}
connections: [{from: text_source, to: cleanup}, {from: cleanup, to: upper}]
)");
  ASSERT_TRUE(m) << m.error().to_string();
  PipelineExecutor exec(std::move(*m));
  std::vector<std::string> got;
  auto session = exec.start_session({.on_output = [&](const std::string&, const DataPtr& d) {
    if (d->text()) got.push_back(d->text()->text);
  }});
  ASSERT_TRUE(session) << session.error().message;
  ASSERT_TRUE((*session)->push("text_source", RuntimeData::make_text("  Hello ", 0)));
  (*session)->close_all_inputs();
  auto st = (*session)->wait();
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(got, std::vector<std::string>{"HELLO"});
}

}  // namespace
