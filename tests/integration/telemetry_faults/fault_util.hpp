#pragma once
// Helpers of the telemetry fault suite: a small tmpfs the test mounts (full-disk tests), raw
// broker sockets (hostile clients), publishers with known contents and reading a store back.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/http_client.hpp"
#include "support/telemetry_test_util.hpp"
#include "telemetry/storage/store.hpp"
#include "telemetry/wire/client.hpp"
#include "telemetry/wire/protocol.hpp"

namespace rm::telemetry::faults {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    std::random_device rd;
    path_ = fs::temp_directory_path() / fmt::format("rm-faults-{}-{}-{:x}", name, ::getpid(), rd());
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A tmpfs of `bytes` mounted on a fresh directory for the test's lifetime.
class SmallDisk {
 public:
  SmallDisk(const fs::path& at, std::size_t bytes) : path_(at) {
    fs::create_directories(path_);
    const std::string opts = fmt::format("size={}", bytes);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      error_ = fmt::format("mount tmpfs on {}: {}", path_.string(), std::strerror(errno));
    }
  }
  ~SmallDisk() {
    if (error_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }
  bool not_permitted() const { return error_.find(std::strerror(EPERM)) != std::string::npos; }
  const fs::path& path() const { return path_; }
  // Writes a filler file until the file system is full; returns the bytes written.
  std::size_t fill(const fs::path& file) {
    std::ofstream out(file, std::ios::binary);
    std::string chunk(64 * 1024, 'x');
    std::size_t n = 0;
    while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) {
      out.flush();
      if (!out) break;
      n += chunk.size();
    }
    // Fill the last partial chunk byte-wise-ish.
    out.clear();
    std::string small(512, 'x');
    while (out.write(small.data(), static_cast<std::streamsize>(small.size())) && out.flush())
      n += small.size();
    return n;
  }

 private:
  fs::path path_;
  std::string error_;
};

// A plain TCP connection to 127.0.0.1:port for sending hand-made bytes.
class RawSocket {
 public:
  // `receive_buffer` > 0 sets SO_RCVBUF before connecting (a small window fills quickly).
  explicit RawSocket(std::uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) {
      (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(RawSocket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  bool ok() const { return fd_ >= 0; }
  bool send(std::string_view b) {
    return ::send(fd_, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size());
  }
  // True once the peer closed the connection (EOF or reset) within `timeout`; frames it sent
  // before are appended to `received`.
  bool closed_by_peer(std::chrono::milliseconds timeout, std::string* received = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
      if (received) received->append(buf, static_cast<std::size_t>(n));
    }
    return false;
  }

 private:
  int fd_ = -1;
};

// The first ERROR frame in `bytes`, if any.
inline std::optional<ErrorFrame> first_error(const std::string& bytes) {
  FrameDecoder d;
  d.feed(bytes);
  while (true) {
    auto f = d.next();
    if (!f || !*f) return std::nullopt;
    if ((*f)->type == FrameType::error) {
      auto e = decode_error((*f)->payload);
      if (e) return *e;
      return std::nullopt;
    }
  }
}

inline std::string hello_frame(const std::string& producer, const std::string& token = {}) {
  std::string out;
  encode_hello(out, Hello{kProtocolVersion, producer, token});
  return out;
}

// GPUs and batches with known contents: producer p's batch k has `per_batch` samples of GPU
// "GPU-<p>" with timestamps 1e9 * (k * per_batch + i) + 1 (unique per producer).
struct KnownPublisher {
  GpuInfo gpu;
  std::size_t per_batch;
  explicit KnownPublisher(const std::string& id, std::size_t n = 50) : per_batch(n) {
    gpu.id = id;
    gpu.uuid = id;
    gpu.gpu_index = "0";
    gpu.hostname = "host-faults";
    gpu.model = "NVIDIA H100 80GB HBM3";
  }
  std::vector<OutSample> batch(std::uint64_t k) const {
    std::vector<OutSample> out;
    for (std::size_t i = 0; i < per_batch; ++i) {
      const auto ts = static_cast<std::int64_t>((k * per_batch + i) * 1'000'000'000ULL + 1);
      out.push_back(OutSample{&gpu, "DCGM_FI_DEV_GPU_UTIL", ts, static_cast<double>(k)});
    }
    return out;
  }
};

// Every timestamp stored for `gpu_id` in a store directory, read by opening it (the writer
// must be gone). Fails the test on a duplicate timestamp.
inline std::multiset<std::int64_t> stored_timestamps(const fs::path& dir, const std::string& gpu_id) {
  StoreOptions o;
  o.dir = dir;
  o.checkpoints = false;
  o.max_entries = 10'000'000;
  auto s = Store::open(o);
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  std::multiset<std::int64_t> out;
  if (!s) return out;
  TelemetryQuery q;
  q.gpu_id = gpu_id;
  q.limit = 10000;
  while (true) {
    auto page = (*s)->index().query(q);
    if (!page) break;
    for (const auto& p : page->points) out.insert(p.timestamp_ns);
    if (!page->next_cursor) break;
    q.cursor = *page->next_cursor;
  }
  (*s)->close();
  return out;
}

using test::metric_line;
using test::metric_value;

}  // namespace rm::telemetry::faults
