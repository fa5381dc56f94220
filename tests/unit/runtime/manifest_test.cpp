#include "runtime/manifest.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "test_nodes.hpp"

namespace rm::runtime {
namespace {

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::register_test_nodes(); }
};

// A docker node that is valid on any host (1 core, 256 MB), used as a base for variants.
constexpr const char* kValid = R"(
version: "v1"
metadata:
  name: "demo"
  description: "test pipeline"
  owner: "team"
nodes:
  - id: relay
    node_type: TestRelay
    params:
      tag: "!"
  - id: transcribe
    node_type: OmniASRNode
    is_streaming: true
    docker:
      python_version: "3.11"
      system_dependencies: ["ffmpeg"]
      python_packages: ["numpy==1.24.0"]
      resource_limits:
        memory_mb: 256
        cpu_cores: 1.0
      env:
        PYTHONUNBUFFERED: "1"
  - id: post
    node_type: SimpleTextCleanup
    runtime_hint: "cpython"
    params:
      rules: ["lowercase", "trim"]
connections:
  - from: "audio_source"
    to: "relay"
  - from: "relay"
    to: "transcribe"
  - from: "transcribe"
    to: "post"
)";

TEST_F(ManifestTest, valid_manifest_loads_with_kinds_inputs_outputs_and_defaults) {
  auto m = Manifest::from_string(kValid);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->version(), "v1");
  EXPECT_EQ(m->metadata().name, "demo");
  EXPECT_EQ(m->metadata().extra.at("owner").as_string(), "team");
  ASSERT_EQ(m->nodes().size(), 3u);
  EXPECT_EQ(m->nodes()[0].kind, NodeKind::native);
  EXPECT_EQ(m->nodes()[1].kind, NodeKind::docker);
  EXPECT_EQ(m->nodes()[2].kind, NodeKind::process);
  // Native params are completed with the contract's defaults.
  EXPECT_EQ(m->nodes()[0].resolved_params.at("tag").as_string(), "!");
  EXPECT_DOUBLE_EQ(m->nodes()[0].resolved_params.at("gain").to_number<double>(), 1.0);
  const auto& d = *m->nodes()[1].docker;
  EXPECT_EQ(d.base_image, "python:3.11-slim");
  EXPECT_EQ(d.shm_size_mb, 2048u);
  EXPECT_EQ(d.resource_limits.memory_mb, 256u);
  EXPECT_EQ(d.env.at("PYTHONUNBUFFERED"), "1");
  EXPECT_EQ(m->inputs(), std::vector<std::string>{"audio_source"});
  EXPECT_EQ(m->outputs(), std::vector<std::string>{"post"});
  EXPECT_EQ(m->topological_order(), (std::vector<std::string>{"relay", "transcribe", "post"}));
  EXPECT_TRUE(m->warnings().empty());
}

TEST_F(ManifestTest, json_text_loads_like_yaml) {
  auto m = Manifest::from_string(R"({"version": "v1", "nodes": [{"id": "a", "node_type": "TestRelay",
      "params": {"gain": 2}}], "connections": [{"from": "in", "to": "a"}]})",
                                 ManifestFormat::json);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->nodes()[0].resolved_params.at("gain").to_number<double>(), 2.0);
  EXPECT_EQ(m->inputs(), std::vector<std::string>{"in"});
}

TEST_F(ManifestTest, json_syntax_error_reports_line_and_column) {
  auto m = Manifest::from_string("{\"version\": \"v1\",\n  \"nodes\": [,]}", ManifestFormat::json);
  ASSERT_FALSE(m);
  ASSERT_EQ(m.error().issues.size(), 1u);
  EXPECT_EQ(m.error().issues[0].code, ManifestErrorCode::syntax);
  EXPECT_EQ(m.error().issues[0].line, 2);
  EXPECT_GT(m.error().issues[0].column, 1);
}

TEST_F(ManifestTest, yaml_syntax_error_reports_line) {
  auto m = Manifest::from_string("version: \"v1\"\nnodes:\n  - id: [a\n");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().issues[0].code, ManifestErrorCode::syntax);
  EXPECT_GE(m.error().issues[0].line, 3);
}

TEST_F(ManifestTest, semantic_errors_in_json_carry_line_numbers) {
  auto m = Manifest::from_string(
      "{\"version\": \"v1\",\n \"nodes\": [\n  {\"id\": \"a\", \"node_type\": \"Nope\"}]}",
      ManifestFormat::json);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().issues[0].code, ManifestErrorCode::unknown_node_type);
  EXPECT_EQ(m.error().issues[0].line, 3);
}

TEST_F(ManifestTest, flat_docker_spelling_and_aliases_are_accepted) {
  auto m = Manifest::from_string(R"(
version: v1
nodes:
  - id: n
    node_type: X
    docker:
      python_version: 3.11
      base_image: myorg/img:1
      system_packages: [ffmpeg]
      memory_mb: 512
      cpu_cores: 0.5
      env_vars: {A: 1}
      shm_size_mb: 64
      gpus: all
connections: [{from: src, to: n}]
)");
  ASSERT_TRUE(m) << m.error().to_string();
  const auto& d = *m->nodes()[0].docker;
  EXPECT_EQ(d.python_version, "3.11");
  EXPECT_EQ(d.base_image, "myorg/img:1");
  EXPECT_EQ(d.system_dependencies, std::vector<std::string>{"ffmpeg"});
  EXPECT_EQ(d.resource_limits.memory_mb, 512u);
  EXPECT_DOUBLE_EQ(d.resource_limits.cpu_cores, 0.5);
  EXPECT_EQ(d.env.at("A"), "1");
  EXPECT_EQ(d.shm_size_mb, 64u);
  EXPECT_EQ(d.gpus.mode, GpuRequest::Mode::all);
}

TEST_F(ManifestTest, canonical_json_is_stable_and_changes_with_the_config) {
  auto a = Manifest::from_string(kValid);
  auto b = Manifest::from_string(kValid);
  ASSERT_TRUE(a && b);
  auto ja = a->nodes()[1].docker->canonical_json();
  EXPECT_EQ(ja, b->nodes()[1].docker->canonical_json());
  EXPECT_NE(ja.find("\"python_version\":\"3.11\""), std::string::npos);
  auto changed = std::string(kValid);
  changed.replace(changed.find("memory_mb: 256"), 14, "memory_mb: 512");
  auto c = Manifest::from_string(changed);
  ASSERT_TRUE(c);
  EXPECT_NE(ja, c->nodes()[1].docker->canonical_json());
}

TEST_F(ManifestTest, unknown_top_level_keys_are_warnings_not_errors) {
  auto m = Manifest::from_string("version: v1\nfoo: 1\nnodes: [{id: a, node_type: TestRelay}]\n");
  ASSERT_TRUE(m) << m.error().to_string();
  ASSERT_EQ(m->warnings().size(), 1u);
  EXPECT_NE(m->warnings()[0].find("unknown top-level key 'foo'"), std::string::npos);
}

TEST_F(ManifestTest, every_problem_is_reported_not_only_the_first) {
  auto m = Manifest::from_string(R"(
version: v9
nodes:
  - {id: a, node_type: Nope}
  - {id: a, node_type: TestRelay}
connections: [{from: a, to: zz}]
)");
  ASSERT_FALSE(m);
  EXPECT_TRUE(m.error().has(ManifestErrorCode::unsupported_version));
  EXPECT_TRUE(m.error().has(ManifestErrorCode::unknown_node_type));
  EXPECT_TRUE(m.error().has(ManifestErrorCode::duplicate_id));
  EXPECT_TRUE(m.error().has(ManifestErrorCode::unknown_node));
}

TEST_F(ManifestTest, odd_yaml_shapes_are_errors_not_crashes) {
  const char* docs[] = {
      "version: v1\nnodes: [{id: a, node_type: TestRelay, params: {[1, 2]: x}}]\n",
      "version: v1\nnodes: [{id: {x: 1}, node_type: TestRelay}]\n",
      "version: [v1]\nnodes: [[1]]\nconnections: {a: b}\n",
      "version: v1\nnodes:\n  - &n {id: a, node_type: TestRelay}\n  - *n\n",
      "",
      "42",
  };
  for (const char* d : docs) {
    auto m = Manifest::from_string(d);
    ASSERT_FALSE(m) << d;
    EXPECT_FALSE(m.error().issues.empty());
  }
}

TEST_F(ManifestTest, missing_file_is_an_io_error_naming_the_path) {
  auto m = Manifest::from_file("/nonexistent/dir/pipeline.yaml");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().issues[0].code, ManifestErrorCode::io);
  EXPECT_NE(m.error().issues[0].message.find("/nonexistent/dir/pipeline.yaml"), std::string::npos);
}

TEST_F(ManifestTest, relative_volume_paths_resolve_against_the_manifest_directory) {
  auto dir = std::filesystem::temp_directory_path() / ("rm_manifest_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "models");
  {
    std::ofstream f(dir / "p.yaml");
    f << R"(version: v1
nodes:
  - id: n
    node_type: X
    docker:
      python_version: "3.13"
      resource_limits: {memory_mb: 128, cpu_cores: 0.1}
      volumes:
        - {host_path: ./models, container_path: /models, read_only: true}
)";
  }
  auto m = Manifest::from_file(dir / "p.yaml");
  ASSERT_TRUE(m) << m.error().to_string();
  const auto& v = m->nodes()[0].docker->volumes.at(0);
  EXPECT_EQ(v.host_path, (dir / "models").string());
  EXPECT_TRUE(v.read_only);
  std::filesystem::remove_all(dir);
}

// One row per invalid case: the manifest, the expected code, the field path, the node id and
// a piece of the message.
struct InvalidCase {
  const char* name;
  const char* yaml;
  ManifestErrorCode code;
  const char* path;
  const char* node_id;
  const char* message;
};

std::string docker_node(const std::string& docker_body) {
  return "version: v1\nnodes:\n  - id: dn\n    node_type: PyNode\n    docker:\n" + docker_body +
         "connections: [{from: src, to: dn}]\n";
}

TEST(PythonVersions, a_version_without_a_local_recipe_is_accepted_with_a_base_image_or_a_registry) {
  const std::string limits = "      resource_limits: {memory_mb: 256, cpu_cores: 0.5}\n";
  for (const char* v : {"3.10", "3.12"}) {
    auto with_base = Manifest::from_string(docker_node(fmt::format("      python_version: \"{}\"\n", v) +
                                                       "      base_image: myorg/py:1\n" + limits));
    EXPECT_TRUE(with_base) << with_base.error().to_string();
    ::setenv("RM_DOCKER_REGISTRY", "1", 1);
    auto pulled =
        Manifest::from_string(docker_node(fmt::format("      python_version: \"{}\"\n", v) + limits));
    ::unsetenv("RM_DOCKER_REGISTRY");
    EXPECT_TRUE(pulled) << pulled.error().to_string();
  }
  for (const char* v : {"3.9", "3.11", "3.13"}) {
    auto m = Manifest::from_string(docker_node(fmt::format("      python_version: \"{}\"\n", v) + limits));
    EXPECT_TRUE(m) << m.error().to_string();
  }
}

class InvalidManifest : public ManifestTest, public ::testing::WithParamInterface<InvalidCase> {};

const std::string kLimits = "      resource_limits: {memory_mb: 256, cpu_cores: 0.5}\n";
const std::string kPy = "      python_version: \"3.11\"\n";
const std::string kTooManyCores = "      resource_limits: {memory_mb: 256, cpu_cores: " +
                                  std::to_string(std::thread::hardware_concurrency() + 1) + "}\n";

const std::string s_missing_py = docker_node(kLimits);
const std::string s_bad_py = docker_node("      python_version: \"3.8\"\n" + kLimits);
const std::string s_py_no_recipe = docker_node("      python_version: \"3.10\"\n" + kLimits);
const std::string s_low_mem = docker_node(kPy + "      resource_limits: {memory_mb: 64, cpu_cores: 0.5}\n");
const std::string s_low_cpu = docker_node(kPy + "      resource_limits: {memory_mb: 256, cpu_cores: 0.05}\n");
const std::string s_high_cpu = docker_node(kPy + kTooManyCores);
const std::string s_no_limits = docker_node(kPy);
const std::string s_no_cpu = docker_node(kPy + "      resource_limits: {memory_mb: 256}\n");
const std::string s_mem_string =
    docker_node(kPy + "      resource_limits: {memory_mb: lots, cpu_cores: 1}\n");
const std::string s_empty_pkg = docker_node(kPy + kLimits + "      python_packages: [\"numpy\", \"\"]\n");
const std::string s_empty_sys = docker_node(kPy + kLimits + "      system_packages: [\" \"]\n");
const std::string s_missing_vol =
    docker_node(kPy + kLimits + "      volumes: [{host_path: /definitely/not/here, container_path: /m}]\n");
const std::string s_rel_vol =
    docker_node(kPy + kLimits + "      volumes: [{host_path: ., container_path: m}]\n");
const std::string s_both_spellings =
    docker_node(kPy + kLimits + "      env: {A: 1}\n      env_vars: {B: 2}\n");
const std::string s_bad_gpus = docker_node(kPy + kLimits + "      gpus: some\n");
const std::string s_packages_not_list = docker_node(kPy + kLimits + "      python_packages: numpy\n");
const std::string s_shm_string = docker_node(kPy + kLimits + "      shm_size_mb: big\n");

const InvalidCase kCases[] = {
    {"unsupported_version", "version: v2\nnodes: [{id: a, node_type: TestRelay}]\n",
     ManifestErrorCode::unsupported_version, "version", "", "version \"v2\" is not supported"},
    {"missing_version", "nodes: [{id: a, node_type: TestRelay}]\n", ManifestErrorCode::missing_field,
     "version", "", "version is required"},
    {"no_nodes", "version: v1\nnodes: []\n", ManifestErrorCode::no_nodes, "nodes", "", "nodes is empty"},
    {"nodes_missing", "version: v1\n", ManifestErrorCode::no_nodes, "nodes", "", "nodes is missing"},
    {"nodes_not_a_list", "version: v1\nnodes: abc\n", ManifestErrorCode::wrong_type, "nodes", "",
     "nodes must be a list, got string \"abc\""},
    {"duplicate_id", "version: v1\nnodes: [{id: a, node_type: TestRelay}, {id: a, node_type: TestRelay}]\n",
     ManifestErrorCode::duplicate_id, "nodes[1].id", "a", "nodes[1].id \"a\" is already used by nodes[0]"},
    {"missing_id", "version: v1\nnodes: [{node_type: TestRelay}]\n", ManifestErrorCode::missing_field,
     "nodes[0].id", "", "nodes[0].id is required"},
    {"missing_node_type", "version: v1\nnodes: [{id: a}]\n", ManifestErrorCode::missing_field,
     "nodes[0].node_type", "a", "nodes[0].node_type is required"},
    {"to_names_no_node",
     "version: v1\nnodes: [{id: a, node_type: TestRelay}]\nconnections: [{from: a, to: b}]\n",
     ManifestErrorCode::unknown_node, "connections[0].to", "b", "connections[0].to \"b\" names no node"},
    {"connection_without_to",
     "version: v1\nnodes: [{id: a, node_type: TestRelay}]\nconnections: [{from: x}]\n",
     ManifestErrorCode::missing_field, "connections[0].to", "", "connections[0].to is required"},
    {"unknown_native_type", "version: v1\nnodes: [{id: a, node_type: NoSuchNode}]\n",
     ManifestErrorCode::unknown_node_type, "nodes[0].node_type", "a",
     "nodes[0].node_type \"NoSuchNode\" is not a native node type"},
    {"unknown_type_with_auto_hint",
     "version: v1\nnodes: [{id: a, node_type: NoSuchNode, runtime_hint: auto}]\n",
     ManifestErrorCode::unknown_node_type, "nodes[0].node_type", "a", "is not a native node type"},
    {"native_param_wrong_type", "version: v1\nnodes: [{id: a, node_type: TestRelay, params: {gain: loud}}]\n",
     ManifestErrorCode::invalid_params, "nodes[0].params", "a", "params.gain must be a number, got string"},
    {"native_param_out_of_range", "version: v1\nnodes: [{id: a, node_type: TestRelay, params: {gain: 99}}]\n",
     ManifestErrorCode::invalid_params, "nodes[0].params", "a", "params.gain = 99 is out of range"},
    {"native_param_unknown", "version: v1\nnodes: [{id: a, node_type: TestRelay, params: {volume: 1}}]\n",
     ManifestErrorCode::invalid_params, "nodes[0].params", "a", "unknown param 'volume'"},
    {"cycle",
     "version: v1\nnodes: [{id: a, node_type: TestRelay}, {id: b, node_type: TestRelay}, "
     "{id: c, node_type: TestRelay}]\nconnections: [{from: in, to: a}, {from: a, to: b}, {from: b, to: c}, "
     "{from: c, to: b}]\n",
     ManifestErrorCode::cycle, "connections", "b", "connections form a cycle: b -> c -> b"},
    {"self_loop", "version: v1\nnodes: [{id: a, node_type: TestRelay}]\nconnections: [{from: a, to: a}]\n",
     ManifestErrorCode::cycle, "connections", "a", "cycle: a -> a"},
    {"is_streaming_not_bool", "version: v1\nnodes: [{id: a, node_type: TestRelay, is_streaming: maybe}]\n",
     ManifestErrorCode::wrong_type, "nodes[0].is_streaming", "a",
     "nodes[0].is_streaming must be true or false, got string \"maybe\""},
    {"python_version_missing", s_missing_py.c_str(), ManifestErrorCode::missing_field,
     "nodes[0].docker.python_version", "dn", "nodes[0].docker.python_version is required"},
    {"python_version_unsupported", s_bad_py.c_str(), ManifestErrorCode::invalid_value,
     "nodes[0].docker.python_version", "dn", "nodes[0].docker.python_version \"3.8\" is not supported"},
    {"python_version_no_local_recipe", s_py_no_recipe.c_str(), ManifestErrorCode::invalid_value,
     "nodes[0].docker.python_version", "dn",
     "nodes[0].docker.python_version \"3.10\": python:3.10-slim is not on this machine's list of base images "
     "it "
     "can build (Python 3.9, 3.11, 3.13: one per Debian release); either set nodes[0].docker.base_image to "
     "an "
     "image that has Python 3.10, or, when the Docker daemon can pull from a registry, set "
     "RM_DOCKER_REGISTRY=1 so python:3.10-slim is pulled"},
    {"memory_below_minimum", s_low_mem.c_str(), ManifestErrorCode::invalid_value,
     "nodes[0].docker.resource_limits.memory_mb", "dn",
     "nodes[0].docker.resource_limits.memory_mb = 64 is below the minimum of 128"},
    {"cpu_below_minimum", s_low_cpu.c_str(), ManifestErrorCode::invalid_value,
     "nodes[0].docker.resource_limits.cpu_cores", "dn",
     "nodes[0].docker.resource_limits.cpu_cores = 0.05 is below the minimum of 0.1"},
    {"cpu_above_host_cores", s_high_cpu.c_str(), ManifestErrorCode::invalid_value,
     "nodes[0].docker.resource_limits.cpu_cores", "dn", "cores of this host"},
    {"resource_limits_missing", s_no_limits.c_str(), ManifestErrorCode::missing_field,
     "nodes[0].docker.resource_limits", "dn", "nodes[0].docker.resource_limits is required"},
    {"cpu_cores_missing", s_no_cpu.c_str(), ManifestErrorCode::missing_field,
     "nodes[0].docker.resource_limits.cpu_cores", "dn",
     "nodes[0].docker.resource_limits.cpu_cores is required"},
    {"memory_is_a_string", s_mem_string.c_str(), ManifestErrorCode::wrong_type,
     "nodes[0].docker.resource_limits.memory_mb", "dn",
     "nodes[0].docker.resource_limits.memory_mb must be a number, got string \"lots\""},
    {"empty_python_package", s_empty_pkg.c_str(), ManifestErrorCode::invalid_value,
     "nodes[0].docker.python_packages[1]", "dn",
     "nodes[0].docker.python_packages[1] is an empty package name"},
    {"empty_system_package", s_empty_sys.c_str(), ManifestErrorCode::invalid_value,
     "nodes[0].docker.system_packages[0]", "dn",
     "nodes[0].docker.system_packages[0] is an empty package name"},
    {"volume_host_path_missing", s_missing_vol.c_str(), ManifestErrorCode::missing_path,
     "nodes[0].docker.volumes[0].host_path", "dn",
     "nodes[0].docker.volumes[0].host_path \"/definitely/not/here\" does not exist"},
    {"volume_container_path_relative", s_rel_vol.c_str(), ManifestErrorCode::invalid_value,
     "nodes[0].docker.volumes[0].container_path", "dn", "must be an absolute path"},
    {"both_spellings_of_env", s_both_spellings.c_str(), ManifestErrorCode::invalid_value,
     "nodes[0].docker.env_vars", "dn", "are the same field; give only one"},
    {"gpus_unrecognised", s_bad_gpus.c_str(), ManifestErrorCode::invalid_value, "nodes[0].docker.gpus", "dn",
     "nodes[0].docker.gpus must be \"all\", a GPU count >= 1 or a non-empty list of device ids"},
    {"packages_not_a_list", s_packages_not_list.c_str(), ManifestErrorCode::wrong_type,
     "nodes[0].docker.python_packages", "dn", "must be a list of package names, got string \"numpy\""},
    {"shm_size_is_a_string", s_shm_string.c_str(), ManifestErrorCode::wrong_type,
     "nodes[0].docker.shm_size_mb", "dn", "nodes[0].docker.shm_size_mb must be a number, got string \"big\""},
    {"manifest_not_a_mapping", "- a\n- b\n", ManifestErrorCode::wrong_type, "", "",
     "the manifest must be a mapping"},
};

TEST_P(InvalidManifest, is_rejected_with_one_precise_error) {
  const auto& c = GetParam();
  auto m = Manifest::from_string(c.yaml, ManifestFormat::yaml, std::filesystem::temp_directory_path());
  ASSERT_FALSE(m) << "accepted: " << c.yaml;
  const auto& issues = m.error().issues;
  ASSERT_EQ(issues.size(), 1u) << m.error().to_string();
  EXPECT_EQ(issues[0].code, c.code) << m.error().to_string();
  EXPECT_EQ(issues[0].path, c.path);
  EXPECT_EQ(issues[0].node_id, c.node_id);
  EXPECT_NE(issues[0].message.find(c.message), std::string::npos)
      << "message: " << issues[0].message << "\nexpected to contain: " << c.message;
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidManifest, ::testing::ValuesIn(kCases),
                         [](const auto& row) { return std::string(row.param.name); });

TEST(IpcSizes, a_python_nodes_channel_sizes_are_read_and_a_native_node_or_a_bad_size_is_an_error) {
  auto m = Manifest::from_string(
      "version: v1\nnodes:\n  - id: py\n    node_type: Big\n    runtime_hint: cpython\n"
      "    ipc: {input_bytes: 16777216, output_bytes: 8192}\nconnections: [{from: src, to: py}]\n");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->nodes()[0].ipc.input_bytes, 16777216u);
  EXPECT_EQ(m->nodes()[0].ipc.output_bytes, 8192u);
  auto small = Manifest::from_string(
      "version: v1\nnodes:\n  - id: py\n    node_type: Big\n    runtime_hint: cpython\n"
      "    ipc: {output_bytes: 100, inptu_bytes: 1}\nconnections: [{from: src, to: py}]\n");
  ASSERT_FALSE(small);
  EXPECT_NE(small.error().to_string().find("nodes[0].ipc.output_bytes = 100 is outside 4096"),
            std::string::npos)
      << small.error().to_string();
  EXPECT_NE(small.error().to_string().find("unknown key 'inptu_bytes'"), std::string::npos)
      << small.error().to_string();
  auto native = Manifest::from_string(
      "version: v1\nnodes:\n  - id: a\n    node_type: TestRelay\n    ipc: {input_bytes: 8192}\n"
      "connections: [{from: src, to: a}]\n");
  ASSERT_FALSE(native);
  EXPECT_NE(native.error().to_string().find("only Python nodes"), std::string::npos)
      << native.error().to_string();
}

}  // namespace
}  // namespace rm::runtime

namespace rm::runtime {
namespace {

constexpr const char* kTextIntoAudio = R"(
version: v1
nodes:
  - {id: words, node_type: TestTextOnly}
  - {id: speech, node_type: TestAudioOnly}
connections:
  - {from: source, to: words}
  - {from: words, to: speech}
)";

TEST_F(ManifestTest, an_edge_from_a_text_only_node_into_an_audio_only_node_names_both_nodes_and_types) {
  auto m = Manifest::from_string(kTextIntoAudio);
  ASSERT_FALSE(m);
  ASSERT_EQ(m.error().issues.size(), 1u) << m.error().to_string();
  const auto& i = m.error().issues[0];
  EXPECT_EQ(i.code, ManifestErrorCode::type_mismatch);
  EXPECT_EQ(i.node_id, "speech");
  EXPECT_EQ(i.message, "connection words -> speech: words emits only text, speech accepts only audio");
}

TEST_F(ManifestTest, nodes_with_overlapping_or_open_contracts_connect) {
  auto m = Manifest::from_string(R"(
version: v1
nodes:
  - {id: a, node_type: TestAudioOnly}
  - {id: any, node_type: TestRelay}
  - {id: b, node_type: TestAudioOnly}
connections: [{from: mic, to: a}, {from: a, to: any}, {from: any, to: b}]
)");
  ASSERT_TRUE(m) << m.error().to_string();
  ASSERT_TRUE(m->find_node("a")->contract);
  EXPECT_EQ(m->find_node("a")->contract->accepts, std::vector<DataType>{DataType::audio});
  EXPECT_TRUE(m->find_node("any")->contract->emits.empty());
}

TEST_F(ManifestTest, a_python_node_contract_declared_in_the_manifest_is_checked_at_validation) {
  auto m = Manifest::from_string(R"(
version: v1
nodes:
  - {id: asr, node_type: Whisper, runtime_hint: cpython, accepts: [audio], emits: [text]}
  - {id: speech, node_type: TestAudioOnly}
connections: [{from: mic, to: asr}, {from: asr, to: speech}]
)");
  ASSERT_FALSE(m);
  ASSERT_EQ(m.error().issues.size(), 1u) << m.error().to_string();
  EXPECT_EQ(m.error().issues[0].code, ManifestErrorCode::type_mismatch);
  EXPECT_EQ(m.error().issues[0].message,
            "connection asr -> speech: asr emits only text, speech accepts only audio");
}

TEST_F(ManifestTest, a_python_node_without_a_declared_contract_is_left_for_start_up) {
  auto m = Manifest::from_string(R"(
version: v1
nodes:
  - {id: asr, node_type: Whisper, runtime_hint: cpython}
  - {id: speech, node_type: TestAudioOnly}
connections: [{from: mic, to: asr}, {from: asr, to: speech}]
)");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_FALSE(m->find_node("asr")->contract);
}

TEST_F(ManifestTest, an_unknown_data_type_in_a_declared_contract_names_the_entry) {
  auto m = Manifest::from_string(R"(
version: v1
nodes:
  - {id: asr, node_type: Whisper, runtime_hint: cpython, accepts: [audio, sound]}
connections: [{from: mic, to: asr}]
)");
  ASSERT_FALSE(m);
  ASSERT_EQ(m.error().issues.size(), 1u) << m.error().to_string();
  EXPECT_EQ(m.error().issues[0].code, ManifestErrorCode::invalid_value);
  EXPECT_EQ(m.error().issues[0].path, "nodes[0].accepts");
  EXPECT_NE(m.error().issues[0].message.find("nodes[0].accepts[1] \"sound\" is not a data type"),
            std::string::npos)
      << m.error().issues[0].message;
}

TEST_F(ManifestTest, accepts_on_a_native_node_is_a_warning_because_its_registered_contract_applies) {
  auto m = Manifest::from_string(R"(
version: v1
nodes: [{id: a, node_type: TestAudioOnly, accepts: [text]}]
connections: [{from: mic, to: a}]
)");
  ASSERT_TRUE(m) << m.error().to_string();
  ASSERT_EQ(m->warnings().size(), 1u);
  EXPECT_NE(m->warnings()[0].find("registered contract applies"), std::string::npos);
  EXPECT_EQ(m->find_node("a")->contract->accepts, std::vector<DataType>{DataType::audio});
}

}  // namespace
}  // namespace rm::runtime
