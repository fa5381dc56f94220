// Backpressure end to end: a client that stops reading holds back, through the server, its own
// sending, with the server's memory bounded and nothing lost once it reads again.
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "server/protocol.hpp"
#include "server_fixture.hpp"

namespace {

using namespace rm::server::test;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

// Resident memory of a process, bytes.
std::size_t rss_bytes(int pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      std::size_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
    std::getline(in, key);
  }
  return 0;
}

// The server's memory may grow by this much while the client offers 96 MB: ~18 MB is measured
// (the frames the bound below allows). Under ASan freed blocks stay in its quarantine and count
// as resident too (~42 MB measured), so the bound is looser there; reading everything the
// client offers would still exceed it.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kRssGrowthBound = 96u << 20;
#else
constexpr std::size_t kRssGrowthBound = 48u << 20;
#endif

std::uint64_t frames_in(Server& server) {
  auto s = server.get_json("/v1/sessions");
  if (!s.is_object() || s.at("sessions").as_array().empty()) return 0;
  return s.at("sessions").as_array()[0].at("frames_in").to_number<std::uint64_t>();
}

TEST(StreamServer, a_client_that_stops_reading_is_held_back_with_bounded_server_memory_and_loses_nothing) {
  Server server;
  // One second of 16 kHz audio per frame (64 KiB), the first sample its number.
  constexpr int kFrames = 1500;
  constexpr std::size_t kFrameBytes = 16000 * sizeof(float);
  auto frame = [](int k) {
    std::vector<float> s(16000, 0.25f);
    s[0] = static_cast<float>(k);
    return rm::server::encode_data_frame_bytes(
        "audio_source", *RuntimeData::make_audio(std::move(s), 16000, 1, k * 1'000'000LL));
  };

  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws(ioc);
  auto& sock = beast::get_lowest_layer(ws).socket();
  sock.open(net::ip::tcp::v4());
  // A small receive buffer, so the kernel holds few of the outputs the client does not read.
  sock.set_option(net::socket_base::receive_buffer_size(64 * 1024));
  sock.connect({net::ip::make_address("127.0.0.1"), server.port()});
  ws.handshake("127.0.0.1", "/v1/stream");
  ws.read_message_max(1u << 24);
  ws.text(true);
  ws.write(net::buffer(rm::server::start_message("passthrough")));
  for (bool ready = false; !ready;) {
    beast::flat_buffer b;
    ws.read(b);
    ready = beast::buffers_to_string(b.data()).find("\"ready\"") != std::string::npos;
  }
  const std::size_t rss_before = rss_bytes(server.process().pid());

  std::atomic<int> sent{0};
  std::atomic<bool> write_failed{false};
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        beast::error_code ec;
        ws.binary(true);
        for (int k = 0; k < kFrames && !ec; ++k) {
          auto bytes = frame(k);
          co_await ws.async_write(net::buffer(bytes), net::redirect_error(net::use_awaitable, ec));
          if (!ec) ++sent;
        }
        ws.text(true);
        if (!ec)
          co_await ws.async_write(net::buffer(rm::server::end_message()),
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec) write_failed = true;
      },
      net::detached);
  std::thread io([&] { ioc.run(); });

  // The client reads nothing: wait until the server stops taking frames.
  std::uint64_t seen = 0;
  for (int still = 0; still < 5;) {
    std::this_thread::sleep_for(200ms);
    const auto now = frames_in(server);
    still = now == seen ? still + 1 : 0;
    seen = now;
  }
  const std::size_t rss_stalled = rss_bytes(server.process().pid());
  const int sent_stalled = sent.load();
  EXPECT_LT(sent_stalled, kFrames) << "the client's sending was never held back";
  // What the server may hold: the inbox (64 frames), the node's queue (64) and batch (32), the
  // frames in hand, and 8 MiB of encoded outputs; plus what the kernel buffers between them
  // (up to 4 MiB in the server's send buffer, ~128 KiB in the client's receive buffer, and
  // socket overhead: 32 frames of slack).
  const std::size_t bound = 64 + 64 + 32 + 4 + (8u << 20) / kFrameBytes + (4u << 20) / kFrameBytes + 32;
  EXPECT_GT(seen, 0u);
  EXPECT_LE(seen, bound) << "the server kept reading a client that reads nothing";
  EXPECT_LT(rss_stalled, rss_before + kRssGrowthBound)
      << "server memory grew from " << rss_before << " to " << rss_stalled << " bytes";

  // Now read: every output comes back once, in order, then done and a normal close.
  std::vector<int> order;
  bool done = false;
  int close_code = 0;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        beast::error_code ec;
        for (;;) {
          beast::flat_buffer b;
          co_await ws.async_read(b, net::redirect_error(net::use_awaitable, ec));
          if (ec) break;
          if (ws.got_text()) {
            done = done || beast::buffers_to_string(b.data()).find("\"done\"") != std::string::npos;
            continue;
          }
          auto d = b.cdata();
          auto f = rm::server::decode_data_frame({static_cast<const std::byte*>(d.data()), d.size()});
          order.push_back(f && f->data->audio() ? static_cast<int>(f->data->audio()->view()[0]) : -1);
        }
        if (ec == websocket::error::closed) close_code = ws.reason().code;
      },
      net::detached);
  io.join();
  EXPECT_FALSE(write_failed);
  EXPECT_EQ(sent.load(), kFrames);
  ASSERT_EQ(order.size(), static_cast<std::size_t>(kFrames));
  for (int k = 0; k < kFrames; ++k) ASSERT_EQ(order[k], k) << "output " << k;
  EXPECT_TRUE(done);
  EXPECT_EQ(close_code, 1000);
}

}  // namespace
