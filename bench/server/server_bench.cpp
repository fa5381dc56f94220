// Per-chunk round trip client -> PassThrough -> client with 20 ms chunks of 16 kHz audio sent at
// real time, over the streaming server (real WebSockets on 127.0.0.1, server in this process)
// and over the in-process path (PipelineExecutor, what `remotemedia run` uses), at 1 and at N
// concurrent sessions; and sessions started per second (connect, ready, end, close).
//   server_bench [--sessions 100] [--seconds 5] [--starts 200] [--spin-us 100] [--io-thread 0]
//                [--inline 1] [--pin same|split]
// (--spin-us: the server's node_spin, how long an idle node thread spins before sleeping; the
// in-process rows keep the runtime's default. --io-thread 1: clients with their own io thread
// instead of caller-driven ones, ClientOptions::caller_driven. --inline 0: the server runs the
// PassThrough on a node thread, not on the session's io thread, ServerOptions::inline_nodes.
// --pin same: the server's threads and the clients' all on CPU 0; --pin split: the server's on
// CPU 0, the clients' on CPU 1; where the scheduler puts them otherwise.)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>

#include "server/protocol.hpp"
#include "server/stream_client.hpp"
#include "server/stream_server.hpp"

using namespace std::chrono;
using rm::runtime::RuntimeData;

namespace {

struct Stats {
  std::mutex m;
  std::vector<double> us;
  void add(const std::vector<double>& v) {
    std::lock_guard l(m);
    us.insert(us.end(), v.begin(), v.end());
  }
  std::string summary() {
    std::sort(us.begin(), us.end());
    auto q = [&](double p) {
      return us.empty() ? 0.0 : us[std::min(us.size() - 1, std::size_t(p * us.size()))];
    };
    return fmt::format("n={} p50={:.0f} us p99={:.0f} us max={:.0f} us", us.size(), q(0.5), q(0.99),
                       us.back());
  }
};

// CPU the streaming clients' threads run on (-1: anywhere).
int g_client_cpu = -1;

// Pins the calling thread to `cpu`, or lets it run anywhere (-1); threads it starts inherit it.
void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) {
    CPU_SET(cpu, &set);
  } else {
    for (unsigned c = 0; c < std::thread::hardware_concurrency(); ++c) CPU_SET(c, &set);
  }
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

rm::runtime::DataPtr chunk(int k) {
  return RuntimeData::make_audio(std::vector<float>(320, 0.01f), 16000, 1, k * 20'000LL);
}

void over_server(const std::string& url, const rm::server::ClientOptions& co, int sessions, int chunks,
                 Stats& stats) {
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int s = 0; s < sessions; ++s) {
    threads.emplace_back([&, s] {
      if (g_client_cpu >= 0) pin_to(g_client_cpu);
      auto c = rm::server::StreamClient::connect(url, "passthrough", co);
      if (!c) {
        ++failed;
        return;
      }
      std::vector<double> rtt;
      // Stagger the sessions over one chunk period, as independent real-time clients would be.
      auto t0 = steady_clock::now() + microseconds(20'000 * s / std::max(1, sessions));
      for (int k = 0; k < chunks; ++k) {
        std::this_thread::sleep_until(t0 + microseconds(20'000LL * k));
        auto sent = steady_clock::now();
        (*c)->send("audio_source", *chunk(k));
        auto ev = (*c)->next(seconds(10));
        if (!ev || ev->kind != rm::server::ClientEvent::Kind::output) {
          ++failed;
          return;
        }
        rtt.push_back(duration<double, std::micro>(steady_clock::now() - sent).count());
      }
      (*c)->end();
      while (auto ev = (*c)->next(seconds(10))) {
        if (ev->kind == rm::server::ClientEvent::Kind::closed) break;
      }
      stats.add(rtt);
    });
  }
  for (auto& t : threads) t.join();
  if (failed) std::printf("  %d session(s) failed\n", failed.load());
}

// One session with the smallest client there is: a blocking Beast WebSocket on a plain socket
// that encodes and writes a frame, then reads the answer (no event queue, no io_context run).
// What the server and the kernel take of a round trip, next to what the StreamClient adds.
// Every answer is checked to be the echo of the chunk just sent (by its timestamp).
void over_server_blocking(std::uint16_t port, int chunks, Stats& stats) {
  namespace net = boost::asio;
  namespace websocket = boost::beast::websocket;
  using tcp = net::ip::tcp;
  net::io_context ioc(1);
  tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  socket.set_option(tcp::no_delay(true));
  websocket::stream<tcp::socket> ws(std::move(socket));
  ws.handshake("127.0.0.1", "/v1/stream");
  ws.text(true);
  ws.write(net::buffer(rm::server::start_message("passthrough")));
  boost::beast::flat_buffer buffer;
  for (;;) {  // progress messages, then ready
    buffer.clear();
    ws.read(buffer);
    if (!ws.got_text()) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(boost::beast::buffers_to_string(buffer.data()), ec);
    if (!ec && v.is_object() && v.as_object().contains("type") && v.as_object().at("type") == "ready") break;
  }
  ws.binary(true);
  std::vector<double> rtt;
  auto t0 = steady_clock::now();
  for (int k = 0; k < chunks; ++k) {
    std::this_thread::sleep_until(t0 + microseconds(20'000LL * k));
    auto sent = steady_clock::now();
    ws.write(net::buffer(rm::server::encode_data_frame_bytes("audio_source", *chunk(k))));
    buffer.clear();
    ws.read(buffer);
    rtt.push_back(duration<double, std::micro>(steady_clock::now() - sent).count());
    auto data = buffer.cdata();
    auto f = rm::server::decode_data_frame({static_cast<const std::byte*>(data.data()), data.size()});
    if (ws.got_text() || !f || f->data->timestamp_us != k * 20'000LL) {
      std::printf("  blocking client: answer %d is not the echo of chunk %d\n", k, k);
      return;
    }
  }
  boost::beast::error_code ec;
  ws.close(websocket::close_code::normal, ec);
  stats.add(rtt);
}

void in_process(const rm::runtime::PipelineExecutor& ex, int sessions, int chunks, Stats& stats) {
  std::vector<std::thread> threads;
  for (int s = 0; s < sessions; ++s) {
    threads.emplace_back([&, s] {
      std::mutex m;
      std::condition_variable cv;
      int got = 0;
      rm::runtime::SessionOptions o;
      o.on_output = [&](const std::string&, const rm::runtime::DataPtr&) {
        {
          std::lock_guard l(m);
          ++got;
        }
        cv.notify_one();
      };
      auto session = ex.start_session(std::move(o));
      if (!session) return;
      (void)(*session)->wait_ready();
      std::vector<double> rtt;
      auto t0 = steady_clock::now() + microseconds(20'000 * s / std::max(1, sessions));
      for (int k = 0; k < chunks; ++k) {
        std::this_thread::sleep_until(t0 + microseconds(20'000LL * k));
        auto sent = steady_clock::now();
        (void)(*session)->push("audio_source", chunk(k));
        std::unique_lock l(m);
        cv.wait(l, [&] { return got > k; });
        rtt.push_back(duration<double, std::micro>(steady_clock::now() - sent).count());
      }
      (*session)->close_all_inputs();
      (void)(*session)->wait();
      stats.add(rtt);
    });
  }
  for (auto& t : threads) t.join();
}

// CPU seconds this process has used so far (user + system, every thread).
double cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  int sessions = 100, seconds_ = 5, starts = 200, spin_us = 100, io_thread = 0, inline_nodes = 1;
  std::string pin;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--pin")) pin = argv[i + 1];
    if (!std::strcmp(argv[i], "--spin-us")) spin_us = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--sessions")) sessions = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seconds")) seconds_ = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--starts")) starts = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--io-thread")) io_thread = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--inline")) inline_nodes = std::atoi(argv[i + 1]);
  }
  rm::server::ClientOptions co;
  co.caller_driven = io_thread == 0;
  const int chunks = seconds_ * 50;
  auto catalog =
      rm::server::PipelineCatalog::load({std::string(RM_SOURCE_DIR) + "/examples/server/passthrough.yaml"});
  if (!catalog) {
    std::fprintf(stderr, "%s\n", catalog.error().c_str());
    return 1;
  }
  auto manifest =
      rm::runtime::Manifest::from_file(std::string(RM_SOURCE_DIR) + "/examples/server/passthrough.yaml");
  rm::runtime::PipelineExecutor executor(std::move(*manifest));
  rm::server::ServerOptions so;
  so.port = 0;
  so.max_sessions = static_cast<std::size_t>(sessions) + 16;
  so.node_spin = microseconds(spin_us);
  so.inline_nodes = inline_nodes != 0;
  if (!pin.empty() && pin != "same" && pin != "split") {
    std::fprintf(stderr, "--pin takes same or split, not '%s'\n", pin.c_str());
    return 1;
  }
  if (pin == "split" && std::thread::hardware_concurrency() < 2) {
    std::fprintf(stderr, "--pin split needs two CPUs\n");
    return 1;
  }
  // The server's io threads (and the session threads they start) inherit this thread's CPU.
  if (!pin.empty()) pin_to(0);
  g_client_cpu = pin == "same" ? 0 : pin == "split" ? 1 : -1;
  rm::server::StreamServer server(std::move(*catalog), so);
  if (auto ok = server.start(); !ok) {
    std::fprintf(stderr, "%s\n", ok.error().c_str());
    return 1;
  }
  if (!pin.empty()) pin_to(g_client_cpu);  // the in-process rows and the blocking client as the clients
  const auto url = fmt::format("http://127.0.0.1:{}", server.port());
  std::printf(
      "round trip of a 20 ms chunk through PassThrough, real-time pacing, %d s per session, %s clients, "
      "server nodes %s%s\n",
      seconds_, co.caller_driven ? "caller-driven" : "io-thread", so.inline_nodes ? "inline" : "on threads",
      pin == "same"    ? ", server and clients on CPU 0"
      : pin == "split" ? ", server on CPU 0, clients on CPU 1"
                       : "");
  for (int n : {1, sessions}) {
    Stats a, b;
    const double c0 = cpu_s();
    in_process(executor, n, chunks, a);
    const double c1 = cpu_s();
    over_server(url, co, n, chunks, b);
    const double c2 = cpu_s();
    // CPU per second of streaming: how much of the machine the path takes (clients included).
    std::printf("  %3d session(s)  in-process: %s cpu=%.2f s/s\n", n, a.summary().c_str(),
                (c1 - c0) / seconds_);
    std::printf("  %3d session(s)  server:     %s cpu=%.2f s/s\n", n, b.summary().c_str(),
                (c2 - c1) / seconds_);
  }
  {
    Stats c;
    over_server_blocking(server.port(), chunks, c);
    std::printf("    1 session   server, blocking client: %s\n", c.summary().c_str());
  }
  auto t0 = steady_clock::now();
  int ok = 0;
  for (int i = 0; i < starts; ++i) {
    auto c = rm::server::StreamClient::connect(url, "passthrough", co);
    if (!c) continue;
    (*c)->end();
    while (auto ev = (*c)->next(seconds(10))) {
      if (ev->kind == rm::server::ClientEvent::Kind::closed) break;
    }
    ++ok;
  }
  const double s = duration<double>(steady_clock::now() - t0).count();
  std::printf("sessions started one after another (connect, ready, end, close): %d in %.2f s = %.0f/s\n", ok,
              s, ok / s);
  server.drain();
  return 0;
}
