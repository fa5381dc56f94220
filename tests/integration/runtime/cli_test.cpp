#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "media/audio_file.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const fs::path kSource = RM_SOURCE_DIR;
const fs::path kBinary = fs::path(RM_BINARY_DIR) / "apps/remotemedia/remotemedia";

struct Result {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

Result run(const std::string& args) {
  Result r;
  std::string cmd = quote(kBinary.string()) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

using rm::test::TempDir;

bool node_type_linked(const std::string& type) {
  auto r = run("nodes --format json");
  if (r.exit_code != 0) return false;
  const json::value listing = json::parse(r.out);
  for (const auto& n : listing.as_array())
    if (n.at("node_type").as_string() == type) return true;
  return false;
}

// ------------------------------------------------------------------------------------------
// validate

class SeedManifest : public ::testing::TestWithParam<const char*> {};

// The seed asks for Python 3.10 in several places; with a registry (RM_DOCKER_REGISTRY=1) that
// is fine, here the version without a local recipe is a validation error (next test).
TEST_P(SeedManifest, is_accepted_by_validate_when_a_registry_provides_its_python) {
  ::setenv("RM_DOCKER_REGISTRY", "1", 1);
  auto r = run("validate " + quote((kSource / "examples/seed" / GetParam()).string()));
  ::unsetenv("RM_DOCKER_REGISTRY");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("OK: ", 0), 0u) << r.out;
}

TEST(Validate,
     the_seeds_python_3_10_without_a_registry_names_the_version_what_can_be_built_and_the_ways_out) {
  auto r = run("validate " + quote((kSource / "examples/seed/pipeline-with-docker.yaml").string()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("python_version \"3.10\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Python 3.9, 3.11, 3.13"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("base_image"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RM_DOCKER_REGISTRY=1"), std::string::npos) << r.out;
  // The node is named once, at the end ([node transcribe]), not also inside the message.
  EXPECT_EQ(r.out.find("transcribe"), r.out.rfind("transcribe")) << r.out;
  // Scenario 1 asks for 3.9 and 3.11, which are built here.
  auto s1 = run("validate " + quote((kSource / "examples/seed/scenario1.yaml").string()));
  EXPECT_EQ(s1.exit_code, 0) << s1.out;
}

INSTANTIATE_TEST_SUITE_P(Examples, SeedManifest,
                         ::testing::Values("pipeline-with-docker.yaml", "my-custom-node.yaml",
                                           "scenario1.yaml", "scenario2.yaml", "migration-before.yaml",
                                           "migration-after.yaml", "scenario1-here.yaml"));

TEST(Validate, prints_the_pipeline_name_and_node_count) {
  auto r = run("validate " + quote((kSource / "examples/seed/scenario1.yaml").string()));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "OK: scenario1-pytorch-versions (2 nodes)\n");
}

struct Broken {
  const char* file;
  const char* message;
};

class BrokenManifest : public ::testing::TestWithParam<Broken> {};

TEST_P(BrokenManifest, is_rejected_with_the_right_message) {
  auto path = kSource / "tests/integration/runtime/data/broken" / GetParam().file;
  auto r = run("validate " + quote(path.string()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find(GetParam().message), std::string::npos) << "output:\n" << r.out;
  // Every error line names the file, and the summary counts them.
  EXPECT_NE(r.out.find(path.string() + ":"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    Variants, BrokenManifest,
    ::testing::Values(
        Broken{"bad-version.yaml", "version \"v2\" is not supported (supported: \"v1\")"},
        Broken{"duplicate-id.yaml",
               "nodes[1].id \"vad\" is already used by nodes[0]; node ids must be unique [node vad]"},
        Broken{"typo-in-to.yaml", "connections[1].to \"transcibe\" names no node (nodes: transcribe, vad)"},
        Broken{"unknown-node-type.yaml", "nodes[0].node_type \"MyNode\" is not a native node type"},
        Broken{"python-2.yaml", "nodes[0].docker.python_version \"2.7\" is not supported (use one of 3.9"},
        Broken{
            "low-memory.yaml",
            "nodes[0].docker.resource_limits.memory_mb = 64 is below the minimum of 128 [node transcribe]"},
        Broken{"too-many-cores.yaml", "nodes[0].docker.cpu_cores = 4096 is more than the"},
        Broken{"memory-lots.yaml",
               "nodes[1].docker.resource_limits.memory_mb must be a number, got string \"lots\" [node "
               "transcribe]"},
        Broken{"cycle.yaml", "connections form a cycle: a -> b -> c -> a"},
        Broken{"missing-volume.yaml",
               "nodes[0].docker.volumes[0].host_path \"/models/my-model\" does not exist"},
        Broken{"empty-package.yaml", "nodes[0].docker.python_packages[1] is an empty package name"},
        Broken{"no-nodes.json", "nodes is empty: a pipeline needs at least one node"},
        Broken{"missing-limits.yaml",
               "nodes[0].docker.resource_limits is required (memory_mb >= 128 and cpu_cores >= 0.1) [node "
               "node_a]"},
        Broken{"bad-native-param.yaml",
               "nodes[0].params.chunk_size must be an integer, got string \"big\" [node chunk]"}),
    [](const auto& row) {
      std::string n = row.param.file;
      for (auto& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(Validate, missing_manifest_file_is_reported) {
  auto r = run("validate /nonexistent/pipeline.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("manifest file /nonexistent/pipeline.yaml does not exist"), std::string::npos)
      << r.out;
}

TEST(Validate, unknown_top_level_key_is_a_warning_and_still_ok) {
  TempDir dir("rm-cli-warn");
  std::ofstream(dir.path() / "p.yaml") << "version: v1\nextras: 1\nnodes: [{id: a, node_type: "
                                          "PassThrough}]\nconnections: [{from: in, to: a}]\n";
  auto r = run("validate " + quote((dir.path() / "p.yaml").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("warning: "), std::string::npos);
  EXPECT_NE(r.out.find("unknown top-level key 'extras'"), std::string::npos) << r.out;
}

TEST(Validate, a_manifest_run_would_refuse_for_want_of_inputs_is_already_an_error_in_validate) {
  TempDir dir("rm-cli-noinputs");
  const auto p = dir.path() / "p.yaml";
  std::ofstream(p) << "version: v1\nnodes: [{id: a, node_type: PassThrough}]\n";
  auto v = run("validate " + quote(p.string()));
  EXPECT_EQ(v.exit_code, 1) << v.out;
  EXPECT_NE(v.out.find("has no pipeline inputs"), std::string::npos) << v.out;
  auto r = run("run " + quote(p.string()) + " --input x.wav");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("has no pipeline inputs"), std::string::npos) << r.out;
}

TEST(Validate, explain_prints_each_node_with_its_kind_and_contract_and_each_connection_type) {
  auto r = run("validate --explain " + quote((kSource / "examples/transcription/pipeline.yaml").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out,
            "OK: transcription-pipeline (4 nodes)\n"
            "nodes:\n"
            "  resample    native   AudioResample      accepts audio; emits audio\n"
            "  vad         native   SileroVAD          accepts audio, control; emits audio, control\n"
            "  transcribe  docker   PocketSphinxASR    contract reported when it starts\n"
            "  cleanup     process  SimpleTextCleanup  contract reported when it starts\n"
            "connections:\n"
            "  audio_source -> resample: pipeline input, resample accepts audio\n"
            "  resample -> vad: audio\n"
            "  vad -> transcribe: checked when transcribe starts\n"
            "  transcribe -> cleanup: checked when transcribe and cleanup start\n");
}

TEST(Validate, a_connection_between_mismatched_contracts_is_an_error_naming_both_nodes_and_types) {
  TempDir dir("rm-cli-types");
  std::ofstream(dir.path() / "p.yaml") << "version: v1\nnodes:\n  - {id: clean, node_type: TextCleanup}\n"
                                          "  - {id: chunk, node_type: AudioChunker}\n"
                                          "connections: [{from: src, to: clean}, {from: clean, to: chunk}]\n";
  auto r = run("validate " + quote((dir.path() / "p.yaml").string()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(
      r.out.find("error: connection clean -> chunk: clean emits only text, json, chunk accepts only audio "
                 "[node chunk]"),
      std::string::npos)
      << r.out;
}

// ------------------------------------------------------------------------------------------
// nodes

TEST(Nodes, markdown_lists_every_node_with_a_param_table) {
  auto r = run("nodes --format markdown");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("## PassThrough"), std::string::npos);
  EXPECT_NE(r.out.find("## AudioChunker"), std::string::npos);
  EXPECT_NE(r.out.find("| `chunk_size` | integer | `320` |"), std::string::npos) << r.out;
}

TEST(Nodes, unknown_format_is_a_usage_error) {
  auto r = run("nodes --format yaml");
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

// ------------------------------------------------------------------------------------------
// run

class RunSpeech : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("rm-cli-speech");
    auto cmd = "bash " + quote((kSource / "tests/fixtures/make_speech.sh").string()) + " " +
               quote(dir_->path().string()) + " >/dev/null 2>&1";
    generated_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(generated_) << "tests/fixtures/make_speech.sh failed (espeak-ng and sox needed)";
  }

  // A one-node pipeline with the input `audio_source`, for the CLI's own error paths.
  static std::string pass_manifest() {
    auto p = dir_->path() / "pass.yaml";
    std::ofstream(p) << "version: v1\nnodes: [{id: pass, node_type: PassThrough}]\n"
                        "connections: [{from: audio_source, to: pass}]\n";
    return quote(p.string());
  }

  struct Segment {
    double start_s, end_s;
  };

  // Where the words really are: 10 ms frames above an energy floor, merged across gaps shorter
  // than 300 ms (the fixture puts >= 1 s of digital silence between words).
  static std::vector<Segment> word_regions(const fs::path& wav16k) {
    auto a = rm::media::read_audio_file(wav16k);
    EXPECT_TRUE(a);
    std::vector<Segment> out;
    const std::size_t frame = a->sample_rate / 100;
    bool in_word = false;
    double start = 0, last_voiced = 0;
    for (std::size_t f = 0; f + frame <= a->frames(); f += frame) {
      double e = 0;
      for (std::size_t i = 0; i < frame; ++i)
        e += double(a->samples[(f + i) * a->channels]) * a->samples[(f + i) * a->channels];
      bool voiced = std::sqrt(e / double(frame)) > 0.01;
      double t = double(f) / a->sample_rate;
      if (voiced) {
        if (!in_word) {
          if (!out.empty() && t - out.back().end_s < 0.3) {
            start = out.back().start_s;
            out.pop_back();
          } else {
            start = t;
          }
          in_word = true;
        }
        last_voiced = t + 0.01;
      } else if (in_word && t - last_voiced >= 0.3) {
        out.push_back({start, last_voiced});
        in_word = false;
      }
    }
    if (in_word) out.push_back({start, last_voiced});
    return out;
  }

  static std::vector<json::object> read_lines(const fs::path& p) {
    std::vector<json::object> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line).as_object());
    return out;
  }

  void expect_segments_match_words(const std::string& manifest, const std::string& input) {
    TempDir out("rm-cli-run-" + manifest.substr(0, manifest.find('.')));
    auto jsonl = out.path() / "out.jsonl";
    auto r = run("run " + quote((kSource / "examples/native" / manifest).string()) +
                 " --input audio_source=" + quote((dir_->path() / input).string()) + " --output " +
                 quote(jsonl.string()) + " --output-dir " + quote((out.path() / "wav").string()));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    auto words = word_regions(dir_->path() / "three_words_16k.wav");
    ASSERT_EQ(words.size(), 3u);
    std::vector<Segment> segs;
    std::size_t audio_lines = 0;
    for (const auto& l : read_lines(jsonl)) {
      EXPECT_EQ(l.at("node").as_string(), "chunker");
      if (l.at("type").as_string() == "audio") {
        ++audio_lines;
        const auto& a = l.at("audio").as_object();
        EXPECT_EQ(a.at("sample_rate").to_number<int>(), 16000);
        EXPECT_TRUE(fs::exists(std::string(a.at("file").as_string())));
      }
      if (l.at("type").as_string() == "control" && l.at("control").at("kind").as_string() == "speech_end") {
        const auto& p = l.at("control").at("payload");
        segs.push_back(
            {p.at("start_us").to_number<double>() / 1e6, p.at("end_us").to_number<double>() / 1e6});
      }
    }
    EXPECT_GT(audio_lines, 0u);
    ASSERT_EQ(segs.size(), words.size()) << r.out;
    for (std::size_t i = 0; i < segs.size(); ++i) {
      // Padding and hangover make segments a little wider than the words; never by much.
      EXPECT_NEAR(segs[i].start_s, words[i].start_s, 0.3) << "segment " << i;
      EXPECT_NEAR(segs[i].end_s, words[i].end_s, 0.45) << "segment " << i;
    }
  }

  static TempDir* dir_;
  static bool generated_;
};

TempDir* RunSpeech::dir_ = nullptr;
bool RunSpeech::generated_ = false;

TEST_F(RunSpeech, native_webrtc_vad_example_finds_one_segment_per_word) {
  ASSERT_TRUE(node_type_linked("WebRtcVAD")) << "WebRtcVAD is not linked into remotemedia";
  expect_segments_match_words("vad-chunker.yaml", "three_words_44k_stereo.wav");
}

TEST_F(RunSpeech, native_silero_vad_example_finds_one_segment_per_word) {
  ASSERT_TRUE(node_type_linked("SileroVAD")) << "SileroVAD is not linked into remotemedia";
  const char* env = std::getenv("RM_SILERO_WEIGHTS");
  const char* home = std::getenv("HOME");
  fs::path weights =
      env ? fs::path(env) : fs::path(home ? home : "/root") / ".cache/remotemedia/silero_vad_v5.rmw";
  if (!fs::exists(weights))
    GTEST_SKIP() << "Silero weights not installed at " << weights << " (scripts/setup.sh)";
  expect_segments_match_words("silero-vad-chunker.yaml", "three_words_48k_stereo.wav");
}

TEST_F(RunSpeech, missing_input_file_is_reported) {
  auto r = run("run " + pass_manifest() + " --input audio_source=/nonexistent/speech.wav");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("audio file /nonexistent/speech.wav does not exist"), std::string::npos) << r.out;
}

TEST_F(RunSpeech, unsupported_audio_format_is_reported) {
  auto r = run("run " + pass_manifest() +
               " --input audio_source=" + quote((kSource / "examples/seed/scenario1.yaml").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("unsupported audio format"), std::string::npos) << r.out;
}

TEST_F(RunSpeech, unknown_input_name_is_reported_with_the_real_names) {
  auto r = run("run " + pass_manifest() +
               " --input mic=" + quote((dir_->path() / "three_words_16k.wav").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("unknown input 'mic'; the pipeline's inputs are: audio_source"), std::string::npos)
      << r.out;
}

TEST_F(RunSpeech, pass_through_pipeline_writes_one_json_line_per_20ms_chunk) {
  TempDir out("rm-cli-pass");
  std::ofstream(out.path() / "p.yaml") << "version: v1\nnodes: [{id: pass, node_type: PassThrough}]\n"
                                          "connections: [{from: audio_source, to: pass}]\n";
  auto r = run("run " + quote((out.path() / "p.yaml").string()) + " --input " +
               quote((dir_->path() / "three_words_16k.wav").string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto a = rm::media::read_audio_file(dir_->path() / "three_words_16k.wav");
  ASSERT_TRUE(a);
  std::istringstream in(r.out);
  std::size_t lines = 0, frames = 0;
  std::int64_t expected_ts = 0;
  for (std::string line; std::getline(in, line);) {
    auto o = json::parse(line).as_object();
    EXPECT_EQ(o.at("timestamp_us").to_number<std::int64_t>(), expected_ts);
    auto f = o.at("audio").at("frames").to_number<std::size_t>();
    frames += f;
    expected_ts = static_cast<std::int64_t>(double(frames) * 1e6 / 16000);
    ++lines;
  }
  EXPECT_EQ(frames, a->frames());
  EXPECT_EQ(lines, (a->frames() + 319) / 320);
}

}  // namespace
