#pragma once
// The streaming server for the integration tests: `remotemedia serve` as a child process on a
// free 127.0.0.1 port with its own pipelines directory and IPC directory, and helpers to drive
// sessions against it.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>

#include "core/http_client.hpp"
#include "integration/ingest/process.hpp"
#include "server/stream_client.hpp"
#include "support/free_port.hpp"

namespace rm::server::test {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using rm::runtime::RuntimeData;
using Process = rm::telemetry::test::Process;
using rm::server::ClientEvent;
using rm::server::ClientOptions;
using rm::server::StreamClient;

inline const std::string kCli = std::string(RM_BINARY_DIR) + "/apps/remotemedia/remotemedia";

inline constexpr const char* kPassthrough = R"(version: "v1"
metadata: {name: passthrough, description: "audio straight back"}
nodes:
  - {id: pass, node_type: PassThrough}
connections:
  - {from: audio_source, to: pass}
)";

inline constexpr const char* kPythonGain = R"(version: "v1"
metadata:
  name: gain
  session_params:
    gain.gain: {type: number, minimum: 0, maximum: 4, description: "linear gain"}
nodes:
  - {id: gain, node_type: AudioGain, runtime_hint: cpython, params: {gain: 0.5}}
connections:
  - {from: audio_source, to: gain}
)";

inline constexpr const char* kCrash = R"(version: "v1"
metadata: {name: crash}
nodes:
  - {id: pass, node_type: PassThrough}
  - {id: crash, node_type: CrashOnInput, runtime_hint: cpython}
connections:
  - {from: audio_source, to: pass}
  - {from: pass, to: crash}
)";

// Children and grandchildren of `pid`, from /proc.
inline std::vector<int> descendants(int pid) {
  std::vector<int> out;
  std::vector<int> todo{pid};
  while (!todo.empty()) {
    int p = todo.back();
    todo.pop_back();
    std::error_code ec;
    for (const auto& t : fs::directory_iterator(fmt::format("/proc/{}/task", p), ec)) {
      std::ifstream in(t.path() / "children");
      int c;
      while (in >> c) {
        out.push_back(c);
        todo.push_back(c);
      }
    }
  }
  return out;
}

inline std::size_t entries(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it)
    ++n;
  return n;
}

class Server {
 public:
  // `pipelines`: more manifests to serve, file name -> text.
  explicit Server(std::vector<std::string> extra = {}, std::map<std::string, std::string> pipelines = {}) {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() / fmt::format("rm-server-it-{}-{}", ::getpid(), info->name());
    ipc_ = fs::path("/dev/shm") / fmt::format("rm-server-it-{}-{}", ::getpid(), info->name());
    fs::remove_all(root_);
    fs::remove_all(ipc_);
    fs::create_directories(root_ / "pipelines");
    fs::create_directories(ipc_);
    write("passthrough.yaml", kPassthrough);
    write("gain.yaml", kPythonGain);
    write("crash.yaml", kCrash);
    for (const auto& [name, text] : pipelines) write(name, text);
    port_ = rm::test::free_port();
    std::vector<std::string> args = {"serve", "--listen", fmt::format("127.0.0.1:{}", port_), "--pipelines",
                                     (root_ / "pipelines").string()};
    for (auto& e : extra) args.push_back(e);
    proc_ = std::make_unique<Process>(
        kCli, args,
        std::vector<std::pair<std::string, std::string>>{
            {"RM_IPC_DIR", ipc_.string()},
            {"REMOTEMEDIA_PYTHON", "/usr/bin/python3"},
            {"REMOTEMEDIA_NODE_PATH", std::string(RM_SOURCE_DIR) + "/examples/python/nodes"},
            {"RM_LOG_LEVEL", "warn"}});
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = get("/health");
      if (r && r->status != 0) return;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "server did not answer /health on port " << port_;
  }
  ~Server() {
    proc_.reset();
    fs::remove_all(root_);
    fs::remove_all(ipc_);
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(root_ / "pipelines" / name) << text;
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }
  std::uint16_t port() const { return port_; }
  const fs::path& root() const { return root_; }
  const fs::path& ipc() const { return ipc_; }
  Process& process() { return *proc_; }
  tl::expected<rm::core::http::ClientResponse, std::string> get(
      const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return rm::core::http::fetch("127.0.0.1", port_, "GET", path, 2s, "", headers);
  }
  json::value get_json(const std::string& path) {
    auto r = get(path);
    if (!r || r->status != 200) return nullptr;
    return json::parse(r->body);
  }

 private:
  fs::path root_, ipc_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Process> proc_;
};

// 20 ms of 16 kHz audio whose first sample tags (session, chunk).
inline rm::runtime::DataPtr tagged_chunk(int session, int chunk, std::size_t samples = 320) {
  std::vector<float> s(samples, 0.0f);
  s[0] = static_cast<float>(session);
  s[1] = static_cast<float>(chunk);
  return RuntimeData::make_audio(std::move(s), 16000, 1, chunk * 20'000LL);
}

inline std::vector<ClientEvent> drain(StreamClient& c, std::chrono::milliseconds timeout = 30s) {
  std::vector<ClientEvent> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto ev = c.next(100ms);
    if (!ev) continue;
    out.push_back(*ev);
    if (ev->kind == ClientEvent::Kind::closed) break;
  }
  return out;
}

inline const ClientEvent* find_kind(const std::vector<ClientEvent>& evs, ClientEvent::Kind k) {
  for (const auto& e : evs)
    if (e.kind == k) return &e;
  return nullptr;
}

// Raw WebSocket: to send what the client library never would.
inline std::pair<int, std::string> raw_session(std::uint16_t port,
                                               const std::vector<std::pair<bool, std::string>>& frames) {
  namespace beast = boost::beast;
  boost::asio::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws(ioc);
  boost::asio::ip::tcp::resolver resolver(ioc);
  beast::get_lowest_layer(ws).connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  beast::get_lowest_layer(ws).expires_after(10s);
  ws.handshake("127.0.0.1", "/v1/stream");
  for (const auto& [text, bytes] : frames) {
    ws.text(text);
    ws.write(boost::asio::buffer(bytes));
  }
  beast::error_code ec;
  for (;;) {
    beast::flat_buffer b;
    ws.read(b, ec);
    if (ec) break;
  }
  if (ec != beast::websocket::error::closed) return {-1, ec.message()};
  return {ws.reason().code, std::string(ws.reason().reason.data(), ws.reason().reason.size())};
}

}  // namespace rm::server::test
