// 1080p rgb24 frames (6,220,800 bytes) round trip host -> Python -> host, three ways in one run:
//   docker   the SDK's Echo node in a python:3.11-slim container (DockerNode, shared memory)
//   process  the same node in a host python3 process (ProcessNode, shared memory)
//   socket   the same envelope bytes over an AF_UNIX stream socket to a python3 process that
//            reads each one whole and writes it back (u32 length prefix)
//   bench_video [frames=300] [warmup=10]
// A round trip is one frame in flight: encode into the transport, Python receives it and sends
// it back (Echo re-encodes the received frame into the output ring: one copy), the host has the
// decoded frame (copied out of the ring / read from the socket). Per-frame latency p50/p99 in
// ms and frames per second (frames / wall time of the timed frames). No channel sizes are set:
// the rings grow with the first warm-up frame. Needs dockerd with python:3.11-slim.
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "docker/docker_node.hpp"
#include "process/process_node.hpp"
#include "process/wire.hpp"

using namespace rm::runtime;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t kW = 1920, kH = 1080;
constexpr std::size_t kPixels = std::size_t{kW} * kH * 3;

DataPtr frame(std::uint64_t n) {
  std::vector<std::byte> px(kPixels, static_cast<std::byte>(n & 0xFF));
  return *RuntimeData::make_video(Bytes(std::move(px)), kW, kH, PixelFormat::rgb24, n,
                                  static_cast<std::int64_t>(n) * 33'333);
}

struct Result {
  const char* name;
  double p50_ms = 0, p99_ms = 0, fps = 0;
  bool ok = false;
};

Result summarize_run(const char* name, std::vector<double> ms, double wall_s) {
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[static_cast<std::size_t>(p * static_cast<double>(ms.size() - 1))]; };
  return {name, pct(0.5), pct(0.99), static_cast<double>(ms.size()) / wall_s, true};
}

struct Keep : Emitter {
  DataPtr last;
  Status emit(DataPtr d) override {
    last = std::move(d);
    return {};
  }
};

Result through_node(const char* name, Node& node, int frames, int warmup) {
  if (auto s = node.initialize(); !s) {
    std::fprintf(stderr, "%s: %s\n", name, s.error().message.c_str());
    return {name};
  }
  std::vector<DataPtr> inputs;
  for (int i = 0; i < 4; ++i) inputs.push_back(frame(static_cast<std::uint64_t>(i)));
  Keep out;
  std::vector<double> ms;
  Clock::time_point start;
  for (int i = 0; i < warmup + frames; ++i) {
    if (i == warmup) start = Clock::now();
    const auto& in = inputs[static_cast<std::size_t>(i) % inputs.size()];
    auto t0 = Clock::now();
    auto s = node.process(in, out);
    auto t1 = Clock::now();
    const auto* v = out.last ? out.last->video() : nullptr;
    if (!s || v == nullptr || v->frame_number != in->video()->frame_number || v->pixels.size() != kPixels) {
      std::fprintf(stderr, "%s: frame %d: %s\n", name, i, s ? "wrong output" : s.error().message.c_str());
      node.close();
      return {name};
    }
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  node.close();
  return summarize_run(name, std::move(ms), wall);
}

bool write_all(int fd, const void* p, std::size_t n) {
  const auto* b = static_cast<const char*>(p);
  while (n > 0) {
    auto k = ::write(fd, b, n);
    if (k <= 0) return false;
    b += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}
bool read_all(int fd, void* p, std::size_t n) {
  auto* b = static_cast<char*>(p);
  while (n > 0) {
    auto k = ::read(fd, b, n);
    if (k <= 0) return false;
    b += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// The Python side of the socket baseline: length-prefixed messages read whole into one
// preallocated buffer (recv_into, no per-message allocation) and written back.
constexpr const char* kEchoPy = R"PY(
import socket, struct
s = socket.socket(fileno=3)
buf = bytearray(16 << 20)
mv = memoryview(buf)
while True:
    h = s.recv(4, socket.MSG_WAITALL)
    if len(h) < 4:
        break
    (n,) = struct.unpack("<I", h)
    got = 0
    while got < n:
        k = s.recv_into(mv[got:n], n - got)
        if k == 0:
            raise SystemExit(0)
        got += k
    s.sendall(h)
    s.sendall(mv[:n])
)PY";

Result through_socket(int frames, int warmup) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return {"socket"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(sv[1], 3);
    ::execl("/usr/bin/python3", "python3", "-c", kEchoPy, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(sv[1]);
  const int fd = sv[0];
  std::vector<DataPtr> inputs;
  for (int i = 0; i < 4; ++i) inputs.push_back(frame(static_cast<std::uint64_t>(i)));
  std::vector<std::byte> tx, rx;
  std::vector<double> ms;
  Clock::time_point start;
  bool ok = true;
  for (int i = 0; i < warmup + frames && ok; ++i) {
    if (i == warmup) start = Clock::now();
    const auto& in = inputs[static_cast<std::size_t>(i) % inputs.size()];
    auto t0 = Clock::now();
    const auto size = rm::process::encoded_size("bench", *in);
    tx.resize(size);
    ok = bool(rm::process::encode_into(tx, "bench", *in));
    const auto n = static_cast<std::uint32_t>(size);
    ok = ok && write_all(fd, &n, 4) && write_all(fd, tx.data(), size);
    std::uint32_t back = 0;
    ok = ok && read_all(fd, &back, 4) && back == n;
    rx.resize(back);
    ok = ok && read_all(fd, rx.data(), back);
    auto env =
        ok ? rm::process::decode(rx, rm::process::DecodeMode::copy) : decltype(rm::process::decode(rx)){};
    ok = ok && env && env->data->video() && env->data->video()->frame_number == in->video()->frame_number;
    auto t1 = Clock::now();
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!ok) {
    std::fprintf(stderr, "socket: round trip failed\n");
    return {"socket"};
  }
  return summarize_run("socket", std::move(ms), wall);
}

}  // namespace

int main(int argc, char** argv) {
  const int frames = argc > 1 ? std::atoi(argv[1]) : 300;
  const int warmup = argc > 2 ? std::atoi(argv[2]) : 10;
  const auto root = fs::path("/dev/shm") / ("rm-bench-video-" + std::to_string(::getpid()));
  ::setenv("RM_IPC_DIR", root.c_str(), 1);
  ::setenv("RM_PYTHON_SDK_DIR", (fs::path(RM_SOURCE_DIR) / "python").c_str(), 1);
  ::setenv("REMOTEMEDIA_PYTHON", "/usr/bin/python3", 1);
  ::unsetenv("RM_PROCESS_CHANNEL_BYTES");

  DockerConfig c;
  c.python_version = "3.11";
  c.resource_limits = {512, 1.0};
  c.shm_size_mb = 64;
  rm::docker::DockerNode docker(
      rm::docker::DockerNodeOptions::from_env("echo", "Echo", "bench-video-d", {}, c));
  rm::process::ProcessNode host(
      rm::process::ProcessNodeOptions::from_env("echo", "Echo", "bench-video-p", {}));
  const Result results[] = {through_node("docker", docker, frames, warmup),
                            through_node("process", host, frames, warmup), through_socket(frames, warmup)};
  fs::remove_all(root);
  std::printf("1080p rgb24 round trip through Python, %d frames (+%d warm-up), one in flight:\n", frames,
              warmup);
  for (const auto& r : results) {
    if (!r.ok) return 1;
    std::printf("  %-8s %6.1f fps   p50 %6.2f ms   p99 %6.2f ms\n", r.name, r.fps, r.p50_ms, r.p99_ms);
  }
  const auto& d = results[0];
  const auto& p = results[1];
  std::printf(
      "goal docker >= 30 fps: %s; docker p99 <= 5 ms: %s; docker within 10%% of process (fps %+.1f%%, "
      "p50 %+.1f%%)\n",
      d.fps >= 30 ? "met" : "missed", d.p99_ms <= 5 ? "met" : "missed", 100 * (d.fps / p.fps - 1),
      100 * (d.p50_ms / p.p50_ms - 1));
  return 0;
}
