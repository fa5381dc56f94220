// StreamClient with ClientOptions::caller_driven against the real server: no io thread, the
// calling threads read and write the WebSocket themselves.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "server/stream_client.hpp"
#include "server_fixture.hpp"

namespace {

using namespace rm::server::test;

// "" when `evs` holds exactly `chunks` outputs of session `session` in order, then done, then a
// clean close; else what is wrong.
std::string check_outputs(const std::vector<ClientEvent>& evs, int session, int chunks) {
  int next = 0;
  for (const auto& e : evs) {
    if (e.kind != ClientEvent::Kind::output) continue;
    const auto* a = e.data->audio();
    if (e.node != "pass" || a == nullptr || a->view()[0] != float(session) || a->view()[1] != float(next))
      return fmt::format("output {} is not chunk {} of session {}", next, next, session);
    ++next;
  }
  if (next != chunks) return fmt::format("{} outputs, expected {}", next, chunks);
  if (!find_kind(evs, ClientEvent::Kind::done)) return "no done message";
  if (evs.empty() || evs.back().close_code != 1000) return "no clean close";
  return "";
}

TEST(CallerDrivenClient, one_thread_sending_and_reading_in_turn_gets_each_chunk_back_before_the_next) {
  Server server;
  auto c = StreamClient::connect(server.url(), "passthrough", {.caller_driven = true});
  ASSERT_TRUE(c) << c.error().message;
  std::vector<ClientEvent> evs;
  constexpr int kChunks = 100;
  for (int k = 0; k < kChunks; ++k) {
    ASSERT_TRUE((*c)->send("audio_source", *tagged_chunk(3, k)));
    auto ev = (*c)->next(10s);
    ASSERT_TRUE(ev) << "no output for chunk " << k;
    ASSERT_EQ(ev->kind, ClientEvent::Kind::output) << ev->message;
    evs.push_back(*ev);
  }
  ASSERT_TRUE((*c)->end());
  auto rest = drain(**c);
  evs.insert(evs.end(), rest.begin(), rest.end());
  EXPECT_EQ(check_outputs(evs, 3, kChunks), "");
  EXPECT_EQ((*c)->next(0ms)->kind, ClientEvent::Kind::closed) << "after closed, always closed";
}

TEST(CallerDrivenClient, sending_past_a_full_send_buffer_without_reading_loses_nothing) {
  Server server;
  // 4 KB of send buffer holds about three 1.3 KB chunks: send() has to run the writer (and the
  // reader, queueing the outputs) itself to get 400 chunks out.
  auto c =
      StreamClient::connect(server.url(), "passthrough", {.send_buffer_bytes = 4096, .caller_driven = true});
  ASSERT_TRUE(c) << c.error().message;
  constexpr int kChunks = 400;
  for (int k = 0; k < kChunks; ++k) ASSERT_TRUE((*c)->send("audio_source", *tagged_chunk(7, k))) << k;
  ASSERT_TRUE((*c)->end());
  EXPECT_EQ(check_outputs(drain(**c), 7, kChunks), "");
}

// Chunks of 1.3 KB go out in one direct write when the writer is idle, chunks of 40 KB through
// the writer, on both sides (the client's send, the server's echo from its io thread): mixed,
// with and without reading in between, they still arrive in order.
TEST(CallerDrivenClient, small_and_large_frames_mixed_keep_their_order) {
  Server server;
  auto c = StreamClient::connect(server.url(), "passthrough", {.caller_driven = true});
  ASSERT_TRUE(c) << c.error().message;
  constexpr int kChunks = 300;
  std::vector<ClientEvent> evs;
  for (int k = 0; k < kChunks; ++k) {
    const std::size_t samples = k % 3 == 1 ? 10'000 : 320;
    ASSERT_TRUE((*c)->send("audio_source", *tagged_chunk(5, k, samples))) << k;
    if (k % 10 == 9) {
      auto ev = (*c)->next(10s);
      ASSERT_TRUE(ev);
      evs.push_back(*ev);
    }
  }
  ASSERT_TRUE((*c)->end());
  auto rest = drain(**c);
  evs.insert(evs.end(), rest.begin(), rest.end());
  EXPECT_EQ(check_outputs(evs, 5, kChunks), "");
}

TEST(CallerDrivenClient, a_reader_thread_and_a_sender_thread_at_once_lose_nothing) {
  Server server;
  auto c =
      StreamClient::connect(server.url(), "passthrough", {.send_buffer_bytes = 8192, .caller_driven = true});
  ASSERT_TRUE(c) << c.error().message;
  constexpr int kChunks = 1000;
  std::vector<ClientEvent> evs;
  std::thread reader([&] { evs = drain(**c); });
  for (int k = 0; k < kChunks; ++k) ASSERT_TRUE((*c)->send("audio_source", *tagged_chunk(1, k))) << k;
  ASSERT_TRUE((*c)->end());
  reader.join();
  EXPECT_EQ(check_outputs(evs, 1, kChunks), "");
}

TEST(CallerDrivenClient, abort_drops_the_connection_and_next_reports_it_closed) {
  Server server;
  auto c = StreamClient::connect(server.url(), "passthrough", {.caller_driven = true});
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE((*c)->send("audio_source", *tagged_chunk(0, 0)));
  (*c)->abort();
  auto evs = drain(**c, 5s);
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back().kind, ClientEvent::Kind::closed);
  EXPECT_NE(evs.back().close_code, 1000);
  EXPECT_FALSE((*c)->send("audio_source", *tagged_chunk(0, 1))) << "send after the connection closed";
}

}  // namespace
