// `remotemedia serve` end to end: real server process, real WebSockets, real Python processes.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/http_client.hpp"
#include "integration/ingest/process.hpp"
#include "media/audio_file.hpp"
#include "process/wire.hpp"
#include "server/protocol.hpp"
#include "server/stream_client.hpp"
#include "server_fixture.hpp"

namespace {

using namespace rm::server::test;

TEST(StreamServer, fifty_concurrent_sessions_each_get_exactly_their_own_outputs_in_order) {
  Server server({"--max-sessions", "50"});
  constexpr int kSessions = 50, kChunks = 40;
  std::vector<std::string> failures(kSessions);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([&, i] {
      auto c = StreamClient::connect(server.url(), "passthrough");
      if (!c) {
        failures[i] = "connect: " + c.error().message;
        return;
      }
      for (int k = 0; k < kChunks; ++k) (*c)->send("audio_source", *tagged_chunk(i, k));
      (*c)->end();
      auto evs = drain(**c);
      int next = 0;
      for (const auto& e : evs) {
        if (e.kind != ClientEvent::Kind::output) continue;
        const auto* a = e.data->audio();
        if (e.node != "pass" || a == nullptr || a->view()[0] != float(i) || a->view()[1] != float(next) ||
            e.data->timestamp_us != next * 20'000LL) {
          failures[i] = fmt::format("output {} is not chunk {} of session {}", next, next, i);
          return;
        }
        ++next;
      }
      if (next != kChunks)
        failures[i] = fmt::format("{} outputs, expected {}", next, kChunks);
      else if (!find_kind(evs, ClientEvent::Kind::done))
        failures[i] = "no done message";
      else if (evs.back().close_code != 1000)
        failures[i] = fmt::format("closed with {}", evs.back().close_code);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kSessions; ++i) EXPECT_EQ(failures[i], "") << "session " << i;
  auto metrics = server.get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("rm_server_sessions_started_total 50"), std::string::npos) << metrics->body;
  EXPECT_NE(
      metrics->body.find(fmt::format("rm_server_frames_total{{direction=\"in\"}} {}", kSessions * kChunks)),
      std::string::npos);
}

TEST(StreamServer, http_endpoints_describe_pipelines_sessions_and_health) {
  Server server;
  auto health = server.get_json("/health");
  ASSERT_TRUE(health.is_object());
  EXPECT_EQ(health.at("status").as_string(), "ok");
  auto p = server.get_json("/v1/pipelines");
  ASSERT_TRUE(p.is_object());
  const auto& list = p.at("pipelines").as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[2].at("name").as_string(), "passthrough");
  EXPECT_EQ(list[2].at("description").as_string(), "audio straight back");
  EXPECT_EQ(list[2].at("inputs").as_array()[0].as_string(), "audio_source");
  EXPECT_EQ(list[2].at("outputs").as_array()[0].as_string(), "pass");
  EXPECT_EQ(list[2].at("nodes").as_array()[0].at("kind").as_string(), "native");
  EXPECT_EQ(list[1].at("nodes").as_array()[0].at("kind").as_string(), "process");

  auto c = StreamClient::connect(server.url(), "passthrough", {.session_id = "listed-session"});
  ASSERT_TRUE(c) << c.error().message;
  (*c)->send("audio_source", *tagged_chunk(0, 0));
  ASSERT_EQ((*c)->next(10s)->kind, ClientEvent::Kind::output);
  auto s = server.get_json("/v1/sessions");
  ASSERT_TRUE(s.is_object());
  const auto& sessions = s.at("sessions").as_array();
  ASSERT_EQ(sessions.size(), 1u) << json::serialize(s);
  SCOPED_TRACE(json::serialize(s));
  EXPECT_EQ(sessions[0].at("id").as_string(), "listed-session");
  EXPECT_EQ(sessions[0].at("pipeline").as_string(), "passthrough");
  EXPECT_EQ(sessions[0].at("frames_in").to_number<std::uint64_t>(), 1u);
  EXPECT_EQ(sessions[0].at("frames_out").to_number<std::uint64_t>(), 1u);
  EXPECT_GT(sessions[0].at("bytes_in").to_number<std::uint64_t>(), 1280u);
}

TEST(StreamServer, requests_without_the_bearer_token_are_answered_401) {
  const auto token_dir = fs::temp_directory_path() / fmt::format("rm-token-{}", ::getpid());
  fs::create_directories(token_dir);
  std::ofstream(token_dir / "token") << "s3cret\n";
  Server server({"--auth-token-file", (token_dir / "token").string()});
  fs::remove_all(token_dir);
  auto r = server.get("/v1/pipelines");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("Bearer"), std::string::npos);
  EXPECT_EQ(server.get("/v1/pipelines", {{"Authorization", "Bearer wrong"}})->status, 401);
  EXPECT_EQ(server.get("/v1/pipelines", {{"Authorization", "Bearer s3cret"}})->status, 200);
  EXPECT_EQ(server.get("/v1/pipelines?token=s3cret")->status, 200);
  auto refused = StreamClient::connect(server.url(), "passthrough");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().http_status, 401);
  auto ok = StreamClient::connect(server.url(), "passthrough", {.token = "s3cret"});
  EXPECT_TRUE(ok) << ok.error().message;
}

TEST(StreamServer, an_upgrade_past_max_sessions_is_answered_503) {
  Server server({"--max-sessions", "2"});
  auto a = StreamClient::connect(server.url(), "passthrough");
  auto b = StreamClient::connect(server.url(), "passthrough");
  ASSERT_TRUE(a && b);
  auto c = StreamClient::connect(server.url(), "passthrough");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().http_status, 503);
  EXPECT_NE(c.error().message.find("limit of 2 sessions"), std::string::npos) << c.error().message;
  (*a)->end();
  EXPECT_EQ(drain(**a).back().close_code, 1000);
  // The slot comes back once the first session is torn down.
  tl::expected<std::unique_ptr<StreamClient>, rm::server::ClientError> d =
      tl::unexpected(rm::server::ClientError{});
  int refused = 1;
  for (int i = 0; i < 100 && !d; ++i) {
    d = StreamClient::connect(server.url(), "passthrough");
    if (!d) {
      EXPECT_EQ(d.error().http_status, 503);
      ++refused;
      std::this_thread::sleep_for(20ms);
    }
  }
  EXPECT_TRUE(d);
  auto metrics = server.get("/metrics");
  EXPECT_NE(
      metrics->body.find(fmt::format("rm_server_sessions_rejected_total{{reason=\"capacity\"}} {}", refused)),
      std::string::npos)
      << metrics->body;
}

TEST(StreamServer, a_frame_over_the_size_limit_closes_with_1009_and_a_reason) {
  Server server({"--max-frame-bytes", "4096"});
  auto c = StreamClient::connect(server.url(), "passthrough");
  ASSERT_TRUE(c);
  (*c)->send("audio_source", *tagged_chunk(0, 0));  // 1.3 kB: fine
  ASSERT_EQ((*c)->next(10s)->kind, ClientEvent::Kind::output);
  (*c)->send("audio_source", *RuntimeData::make_audio(std::vector<float>(2048), 16000, 1, 20'000));
  auto evs = drain(**c);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].kind, ClientEvent::Kind::error);
  EXPECT_EQ(evs[1].close_code, 1009);
  EXPECT_EQ(evs[1].message, "frame of more than 4096 bytes exceeds the limit of 4096 bytes");
  EXPECT_EQ(server.get("/health")->status, 200);
}

TEST(StreamServer, malformed_frames_and_unknown_pipelines_close_with_a_code_naming_the_problem) {
  Server server;
  const auto start = rm::server::start_message("passthrough");
  auto [c1, r1] = raw_session(server.port(), {{true, "{not json"}});
  EXPECT_EQ(c1, 4400);
  EXPECT_EQ(r1.rfind("malformed frame: control frame is not JSON", 0), 0u) << r1;
  auto [c2, r2] = raw_session(server.port(), {{false, "\x01\x02"}});
  EXPECT_EQ(c2, 4400);
  EXPECT_EQ(r2, "malformed frame: data before the start message");
  auto [c3, r3] = raw_session(server.port(), {{true, start}, {false, std::string("\x01\x00\x00\x00", 4)}});
  EXPECT_EQ(c3, 4400);
  EXPECT_EQ(r3.rfind("malformed frame: envelope", 0), 0u) << r3;
  auto [c4, r4] = raw_session(server.port(), {{true, start}, {true, R"({"type":"pause"})"}});
  EXPECT_EQ(c4, 4400);
  EXPECT_NE(r4.find("unknown control message type \"pause\""), std::string::npos) << r4;
  auto frame = rm::server::encode_data_frame("mic", *tagged_chunk(0, 0));
  auto [c5, r5] = raw_session(
      server.port(),
      {{true, start}, {false, std::string(reinterpret_cast<const char*>(frame.data()), frame.size())}});
  EXPECT_EQ(c5, 4400);
  EXPECT_EQ(r5, "malformed frame: unknown input 'mic' (inputs: audio_source)");

  auto unknown = StreamClient::connect(server.url(), "nope");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().close_code, 4404);
  EXPECT_EQ(unknown.error().message, "unknown pipeline 'nope'; served: crash, gain, passthrough");
  EXPECT_EQ(server.get("/health")->status, 200);
  auto metrics = server.get("/metrics");
  EXPECT_NE(metrics->body.find("rm_server_sessions_failed_total 6"), std::string::npos) << metrics->body;
}

TEST(StreamServer, an_idle_session_is_closed_with_4408) {
  Server server({"--idle-timeout-s", "0.5"});
  auto c = StreamClient::connect(server.url(), "passthrough");
  ASSERT_TRUE(c);
  auto evs = drain(**c, 10s);
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back().close_code, 4408);
  EXPECT_EQ(evs.back().message, "idle for 0 s");
}

TEST(StreamServer, a_node_crashing_mid_stream_sends_its_error_then_closes_1011) {
  Server server;
  auto c = StreamClient::connect(server.url(), "crash");
  ASSERT_TRUE(c) << c.error().message;
  for (int k = 0; k < 5; ++k) (*c)->send("audio_source", *tagged_chunk(0, k));
  auto evs = drain(**c);
  const auto* err = find_kind(evs, ClientEvent::Kind::error);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->node, "crash");
  EXPECT_NE(err->message.find("node crash"), std::string::npos) << err->message;
  EXPECT_EQ(evs.back().close_code, 1011);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = server.get_json("/v1/sessions").at("sessions").as_array().empty();
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone);
}

TEST(StreamServer, a_client_killed_mid_stream_ends_its_session_and_python_process_within_one_second) {
  Server server;
  const auto wav = server.root() / "long.wav";
  std::vector<float> tone(16000 * 30);
  for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = 0.3f * std::sin(float(i) * 0.05f);
  ASSERT_TRUE(rm::media::write_wav(wav, tone, 16000, 1));
  Process client(kCli,
                 {"stream", server.url(), "gain", "--input", wav.string(), "--realtime", "--output",
                  (server.root() / "out.jsonl").string()},
                 {});
  // Streaming: the session exists, has taken frames, and its Python node process runs.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  bool streaming = false;
  while (!streaming && std::chrono::steady_clock::now() < deadline) {
    auto s = server.get_json("/v1/sessions");
    if (s.is_object() && !s.at("sessions").as_array().empty()) {
      const auto& first = s.at("sessions").as_array()[0];
      streaming = first.at("frames_out").to_number<std::uint64_t>() > 5;
    }
    if (!streaming) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(streaming);
  const int server_pid = [&] {
    // The server is our child: its pid is the parent of the python process.
    for (int pid : descendants(::getpid())) {
      std::ifstream cmd(fmt::format("/proc/{}/cmdline", pid));
      std::string s((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
      if (s.find("serve") != std::string::npos) return pid;
    }
    return -1;
  }();
  ASSERT_GT(server_pid, 0);
  ASSERT_FALSE(descendants(server_pid).empty()) << "no python process under the server";
  ASSERT_GT(entries(server.ipc()), 0u);
  client.signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() - killed < 1s) {
    auto s = server.get_json("/v1/sessions");
    gone = s.is_object() && s.at("sessions").as_array().empty() && descendants(server_pid).empty() &&
           entries(server.ipc()) == 0;
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone) << "sessions: " << json::serialize(server.get_json("/v1/sessions"))
                    << ", processes under the server: " << descendants(server_pid).size()
                    << ", IPC entries: " << entries(server.ipc());
  (void)client.wait(5s);
}

TEST(StreamServer, sigterm_refuses_new_sessions_lets_running_ones_finish_then_exits_zero) {
  Server server;
  auto c = StreamClient::connect(server.url(), "passthrough");
  ASSERT_TRUE(c);
  for (int k = 0; k < 10; ++k) (*c)->send("audio_source", *tagged_chunk(7, k));
  for (int k = 0; k < 10; ++k) ASSERT_EQ((*c)->next(10s)->kind, ClientEvent::Kind::output);
  server.process().signal(SIGTERM);
  // Draining: new upgrades are refused, the running session keeps streaming.
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    auto d = StreamClient::connect(server.url(), "passthrough");
    refused =
        !d && (d.error().http_status == 503 || d.error().message.find("cannot connect") != std::string::npos);
    if (!refused) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(refused);
  for (int k = 10; k < 20; ++k) (*c)->send("audio_source", *tagged_chunk(7, k));
  (*c)->end();
  auto evs = drain(**c);
  int outputs = 0;
  for (const auto& e : evs) outputs += e.kind == ClientEvent::Kind::output;
  EXPECT_EQ(outputs, 10);
  EXPECT_EQ(evs.back().close_code, 1000);
  EXPECT_EQ(server.process().wait(10s), std::optional<int>(0));
}

}  // namespace
