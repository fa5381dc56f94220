// Per-session params against the real server: what a manifest allows changes what its nodes
// do for that session only; everything else is refused with 4422 naming the param.
#include <fstream>

#include <boost/json/serialize.hpp>

#include "media/audio_file.hpp"
#include "server/protocol.hpp"
#include "server_fixture.hpp"

namespace {

using namespace rm::server::test;

// Native nodes: the declarations narrow what the nodes' contracts allow.
constexpr const char* kChunked = R"(version: "v1"
metadata:
  name: chunked
  session_params:
    resample.quality: {values: [quick, high]}
    resample.target_rate: {minimum: 1}
    chunker.chunk_size: {minimum: 80, maximum: 1600, description: "frames per output chunk"}
nodes:
  - {id: resample, node_type: AudioResample, params: {target_rate: 16000}}
  - {id: chunker, node_type: AudioChunker, params: {chunk_size: 320}}
connections:
  - {from: audio_source, to: resample}
  - {from: resample, to: chunker}
)";

std::map<std::string, std::string> chunked() {
  return {{"chunked.yaml", kChunked}};
}

// Sends `chunks` x 320 samples and returns the sizes of the outputs.
std::vector<std::size_t> output_sizes(StreamClient& c, int chunks) {
  for (int k = 0; k < chunks; ++k) c.send("audio_source", *tagged_chunk(0, k));
  c.end();
  std::vector<std::size_t> sizes;
  for (const auto& e : drain(c))
    if (e.kind == ClientEvent::Kind::output) sizes.push_back(e.data->audio()->view().size());
  return sizes;
}

rm::server::ClientError refused(const std::string& url, const std::string& pipeline,
                                const std::string& params_json) {
  auto c = StreamClient::connect(url, pipeline, {.params = json::parse(params_json).as_object()});
  EXPECT_FALSE(c) << params_json << " was accepted";
  return c ? rm::server::ClientError{} : c.error();
}

TEST(SessionParams, a_param_the_manifest_allows_changes_its_node_for_that_session_only) {
  Server server({}, chunked());
  auto small = StreamClient::connect(server.url(), "chunked", {.params = {{"chunker.chunk_size", 160}}});
  ASSERT_TRUE(small) << small.error().message;
  EXPECT_EQ(json::serialize((*small)->ready().at("params")), R"({"chunker.chunk_size":160})");
  auto plain = StreamClient::connect(server.url(), "chunked");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(output_sizes(**small, 10), std::vector<std::size_t>(20, 160));
  EXPECT_EQ(output_sizes(**plain, 10), std::vector<std::size_t>(10, 320));
}

TEST(SessionParams, a_python_node_gets_the_value_the_session_set) {
  Server server;
  auto c = StreamClient::connect(server.url(), "gain", {.params = {{"gain.gain", 0.25}}});
  ASSERT_TRUE(c) << c.error().message;
  std::vector<float> s(320, 0.8f);
  (*c)->send("audio_source", *RuntimeData::make_audio(std::move(s), 16000, 1, 0));
  (*c)->end();
  std::vector<float> got;
  for (const auto& e : drain(**c))
    if (e.kind == ClientEvent::Kind::output)
      got.insert(got.end(), e.data->audio()->view().begin(), e.data->audio()->view().end());
  ASSERT_EQ(got.size(), 320u);
  EXPECT_FLOAT_EQ(got[0], 0.2f);  // the manifest's 0.5 would give 0.4
  EXPECT_FLOAT_EQ(got[319], 0.2f);
}

TEST(SessionParams, unknown_mistyped_out_of_bounds_and_unlisted_values_close_4422_naming_the_param) {
  Server server({}, chunked());
  auto unknown = refused(server.url(), "chunked", R"({"chunker.emit_partial": false})");
  EXPECT_EQ(unknown.close_code, 4422);
  EXPECT_EQ(unknown.param, "chunker.emit_partial");
  EXPECT_EQ(unknown.message,
            "session param 'chunker.emit_partial' is not allowed by pipeline 'chunked' (allowed: "
            "resample.quality, resample.target_rate, chunker.chunk_size)");
  auto none = refused(server.url(), "passthrough", R"({"pass.x": 1})");
  EXPECT_EQ(none.close_code, 4422);
  EXPECT_EQ(none.message, "session param 'pass.x' is not allowed: pipeline 'passthrough' allows none");
  auto typed = refused(server.url(), "chunked", R"({"chunker.chunk_size": "big"})");
  EXPECT_EQ(typed.close_code, 4422);
  EXPECT_EQ(typed.param, "chunker.chunk_size");
  EXPECT_EQ(typed.message, "session param 'chunker.chunk_size' must be an integer, got string \"big\"");
  auto fraction = refused(server.url(), "chunked", R"({"chunker.chunk_size": 160.5})");
  EXPECT_EQ(fraction.message, "session param 'chunker.chunk_size' must be an integer, got number 160.5");
  auto low = refused(server.url(), "chunked", R"({"chunker.chunk_size": 40})");
  EXPECT_EQ(low.message, "session param 'chunker.chunk_size' = 40 is below the minimum 80");
  auto high = refused(server.url(), "gain", R"({"gain.gain": 4.5})");
  EXPECT_EQ(high.param, "gain.gain");
  EXPECT_EQ(high.message, "session param 'gain.gain' = 4.5 is above the maximum 4");
  auto unlisted = refused(server.url(), "chunked", R"({"resample.quality": "very_high"})");
  EXPECT_EQ(unlisted.close_code, 4422);
  EXPECT_EQ(unlisted.message,
            "session param 'resample.quality' = \"very_high\" is not one of \"quick\", \"high\"");
  // Nothing was started for any of them, and the server still serves.
  auto metrics = server.get("/metrics");
  EXPECT_NE(metrics->body.find("rm_server_sessions_started_total 0"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("rm_server_sessions_failed_total 7"), std::string::npos) << metrics->body;
  // Within the declaration but not what the node takes: its contract refuses it when the
  // session's manifest is validated.
  auto contract = refused(server.url(), "chunked", R"({"resample.target_rate": 500})");
  EXPECT_EQ(contract.close_code, 4422);
  EXPECT_EQ(contract.param, "resample.target_rate");
  EXPECT_NE(contract.message.find("target_rate"), std::string::npos) << contract.message;
  EXPECT_NE(contract.message.find("1000"), std::string::npos) << contract.message;
  EXPECT_TRUE(StreamClient::connect(server.url(), "chunked", {.params = {{"resample.quality", "quick"}}}));
}

TEST(SessionParams, params_that_are_not_an_object_are_a_malformed_start_4400) {
  Server server({}, chunked());
  auto [code, reason] = raw_session(
      server.port(), {{true, R"({"type":"start","version":1,"pipeline":"chunked","params":[1]})"}});
  EXPECT_EQ(code, 4400);
  EXPECT_EQ(reason,
            "malformed frame: control message field \"params\" must be an object {\"node.param\": value}");
}

TEST(SessionParams, get_pipelines_lists_each_allowed_param_with_type_bounds_values_and_default) {
  Server server({}, chunked());
  auto p = server.get_json("/v1/pipelines");
  ASSERT_TRUE(p.is_object());
  const json::array* params = nullptr;
  for (const auto& e : p.at("pipelines").as_array())
    if (e.at("name").as_string() == "chunked") params = &e.at("params").as_array();
  ASSERT_NE(params, nullptr);
  ASSERT_EQ(params->size(), 3u);
  SCOPED_TRACE(json::serialize(*params));
  const auto& quality = params->at(0).as_object();
  EXPECT_EQ(quality.at("name").as_string(), "resample.quality");
  EXPECT_EQ(quality.at("node").as_string(), "resample");
  EXPECT_EQ(quality.at("param").as_string(), "quality");
  EXPECT_EQ(quality.at("type").as_string(), "string");
  EXPECT_EQ(quality.at("default").as_string(), "high");
  EXPECT_EQ(json::serialize(quality.at("values")), R"(["quick","high"])");
  EXPECT_NE(quality.at("description").as_string().find("libsoxr"), std::string::npos);  // the contract's
  EXPECT_EQ(json::serialize(params->at(2)),
            R"({"name":"chunker.chunk_size","node":"chunker","param":"chunk_size","type":"integer",)"
            R"("default":320,"minimum":80,"maximum":1600,"description":"frames per output chunk"})");
}

TEST(SessionParams, a_manifest_declaring_a_param_its_node_lacks_stops_the_server_naming_it) {
  const auto dir = fs::temp_directory_path() / fmt::format("rm-params-bad-{}", ::getpid());
  fs::create_directories(dir / "pipelines");
  std::ofstream(dir / "pipelines" / "bad.yaml") << R"(version: "v1"
metadata:
  session_params:
    pass.gain: {type: number}
    ghost.x: {type: string}
nodes:
  - {id: pass, node_type: PassThrough}
connections:
  - {from: audio_source, to: pass}
)";
  Process serve(kCli,
                {"serve", "--listen", fmt::format("127.0.0.1:{}", rm::test::free_port()), "--pipelines",
                 (dir / "pipelines").string()},
                {}, "", (dir / "stderr").string());
  EXPECT_EQ(serve.wait(30s), std::optional<int>(1));
  std::ifstream in(dir / "stderr");
  const std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(err.find("metadata.session_params 'pass.gain': node 'pass' (PassThrough) has no param 'gain'"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("metadata.session_params 'ghost.x': no node 'ghost' in this pipeline"),
            std::string::npos)
      << err;
  fs::remove_all(dir);
}

TEST(SessionParams, remotemedia_stream_passes_param_flags_and_fails_naming_a_refused_one) {
  Server server({}, chunked());
  const auto wav = server.root() / "tone.wav";
  ASSERT_TRUE(rm::media::write_wav(wav, std::vector<float>(16000, 0.1f), 16000, 1));
  const auto out = server.root() / "out.jsonl";
  Process ok(kCli,
             {"stream", server.url(), "chunked", "--input", wav.string(), "--param", "chunker.chunk_size=800",
              "--param", "resample.quality=quick", "--output", out.string()},
             {});
  ASSERT_EQ(ok.wait(30s), std::optional<int>(0));
  std::ifstream lines(out);
  int n = 0;
  for (std::string l; std::getline(lines, l);) n += l.find("\"node\":\"chunker\"") != std::string::npos;
  EXPECT_EQ(n, 20);  // one second of 16 kHz audio in 800-frame chunks
  const auto err_path = server.root() / "stderr";
  Process bad(kCli, {"stream", server.url(), "chunked", "--input", wav.string(), "--param", "chunker.size=8"},
              {}, "", err_path.string());
  ASSERT_EQ(bad.wait(30s), std::optional<int>(1));
  std::ifstream in(err_path);
  const std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(err.find("session param 'chunker.size' is not allowed by pipeline 'chunked'"), std::string::npos)
      << err;
}

}  // namespace
