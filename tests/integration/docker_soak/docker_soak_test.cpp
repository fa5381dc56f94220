// Five sessions at once, each streaming real-time audio for RM_DOCKER_SOAK_SECONDS (default 120)
// through the same Docker node config (shared container, one runner per session), against a real
// dockerd (label docker; skipped without one unless RM_REQUIRE_DOCKER=1).
//
// Checks: every session gets back exactly its own chunks, in order, bit for bit (no cross-talk);
// the container's memory, sampled through the Engine API while streaming, does not keep
// growing; afterwards no container and no IPC file is left.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "docker/client.hpp"
#include "docker/container_manager.hpp"
#include "docker/docker_node.hpp"
#include "runtime/executor.hpp"
#include "runtime/manifest.hpp"
#include "support/docker_test.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace rm::runtime;
using rm::docker::DockerClient;

namespace {

constexpr int kSessions = 5;
constexpr std::size_t kFrames = 320;  // 20 ms at 16 kHz

int soak_seconds() {
  const char* v = std::getenv("RM_DOCKER_SOAK_SECONDS");
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : 120;
}

// Chunk n of session k: every sample encodes (k, n, i), so a swapped, lost, repeated or
// corrupted chunk is seen.
std::vector<float> chunk_samples(int k, std::int64_t n) {
  std::vector<float> v(kFrames);
  for (std::size_t i = 0; i < kFrames; ++i) v[i] = float(k) * 1000.0f + float(n % 1000) + float(i) / 1024.0f;
  return v;
}

struct SessionResult {
  std::int64_t pushed = 0;
  std::int64_t received = 0;
  std::int64_t mismatches = 0;
  std::string first_mismatch;
  std::string error;
};

// Container memory (bytes, without page cache) from GET /containers/{id}/stats.
std::optional<std::int64_t> container_memory(DockerClient& client, const std::string& id) {
  auto r = client.request("GET", "/containers/" + id + "/stats?stream=false");
  if (!r || r->status != 200) return std::nullopt;
  boost::system::error_code ec;
  auto v = boost::json::parse(r->body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* ms = v.as_object().if_contains("memory_stats");
  if (ms == nullptr || !ms->is_object()) return std::nullopt;
  const auto& m = ms->as_object();
  const auto* usage = m.if_contains("usage");
  if (usage == nullptr || !usage->is_number()) return std::nullopt;
  std::int64_t bytes = usage->to_number<std::int64_t>();
  if (const auto* st = m.if_contains("stats"); st != nullptr && st->is_object()) {
    for (const char* k : {"inactive_file", "total_inactive_file", "cache"}) {
      if (const auto* c = st->as_object().if_contains(k); c != nullptr && c->is_number()) {
        bytes -= c->to_number<std::int64_t>();
        break;
      }
    }
  }
  return bytes;
}

}  // namespace

TEST(DockerSoak, five_sessions_stream_for_minutes_without_cross_talk_or_growing_memory) {
  auto c = DockerClient::connect_from_env();
  if (!c) {
    if (rm::test::require_docker()) FAIL() << "RM_REQUIRE_DOCKER=1 but: " << c.error().message;
    GTEST_SKIP() << c.error().message;
  }
  DockerClient& client = *c;
  const fs::path root = fs::path("/dev/shm") / rm::test::unique("rm-soak-");
  fs::create_directories(root);
  ::setenv("RM_IPC_DIR", root.c_str(), 1);
  ::setenv("RM_DOCKER_SHARE", "1", 1);
  ::setenv("RM_DOCKER_WARM_IDLE_MS", "500", 1);
  ::setenv("REMOTEMEDIA_PYTHON", "/usr/bin/python3", 1);
  ::setenv("RM_PYTHON_SDK_DIR", (fs::path(RM_SOURCE_DIR) / "python").c_str(), 1);

  // Echo ships with the SDK: the runner finds it without a node path. No packages: the image
  // is the base image plus labels, built once and cached.
  auto m = Manifest::from_string(R"(version: v1
nodes:
  - id: echo
    node_type: Echo
    docker:
      python_version: "3.11"
      resource_limits: {memory_mb: 256, cpu_cores: 1.0}
      shm_size_mb: 64
connections: [{from: audio_source, to: echo}]
)");
  ASSERT_TRUE(m) << m.error().to_string();
  PipelineExecutor exec(std::move(*m));
  const int seconds = soak_seconds();
  const std::int64_t chunks = std::int64_t(seconds) * 50;

  std::vector<SessionResult> results(kSessions);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  std::atomic<int> streamed{0};  // sessions that pushed their last chunk
  for (int k = 0; k < kSessions; ++k) {
    threads.emplace_back([&, k] {
      SessionResult& res = results[std::size_t(k)];
      std::mutex mu;
      std::int64_t expect = 0;
      SessionOptions opts;
      opts.on_output = [&](const std::string&, const DataPtr& d) {
        std::lock_guard lock(mu);
        const auto* a = d->audio();
        const auto want = chunk_samples(k, expect);
        if (a == nullptr || a->view().size() != kFrames ||
            !std::equal(want.begin(), want.end(), a->view().begin()) || d->timestamp_us != expect * 20'000) {
          if (res.mismatches++ == 0)
            res.first_mismatch = fmt::format("session {} output {}: {}", k, expect,
                                             a ? fmt::format("first sample {}", a->view()[0]) : "not audio");
        }
        ++expect;
        ++res.received;
      };
      auto s = exec.start_session(std::move(opts));
      if (!s) {
        res.error = s.error().message;
        return;
      }
      if (auto r = (*s)->wait_ready(); !r) {
        res.error = r.error().message;
        return;
      }
      ++ready;
      const auto t0 = std::chrono::steady_clock::now();
      for (std::int64_t n = 0; n < chunks; ++n) {
        std::this_thread::sleep_until(t0 + std::chrono::milliseconds(20 * n));
        if (!(*s)->push("audio_source", RuntimeData::make_audio(chunk_samples(k, n), 16000, 1, n * 20'000)))
          break;
        ++res.pushed;
      }
      ++streamed;
      (*s)->close_all_inputs();
      if (auto st = (*s)->wait(); !st) res.error = st.error().message;
    });
  }

  // Memory of the shared container(s), every 5 s (shorter runs: 8 samples) while all stream.
  std::vector<std::int64_t> samples;
  const auto owner =
      std::map<std::string, std::string>{{std::string(rm::docker::kLabelOwner), std::to_string(::getpid())}};
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(seconds + 60)) {
    std::this_thread::sleep_for(
        std::min<std::chrono::milliseconds>(5s, std::chrono::milliseconds(seconds * 1000 / 8)));
    if (ready.load() < kSessions) continue;
    if (streamed.load() > 0) break;  // only while all five stream
    auto list = client.container_list(owner, false);
    if (!list || list->empty()) break;
    std::int64_t total = 0;
    bool read = false;
    for (const auto& ct : *list) {
      if (auto mem = container_memory(client, ct.id)) {
        total += *mem;
        read = true;
      }
    }
    if (read && streamed.load() == 0) samples.push_back(total);
  }
  for (auto& t : threads) t.join();

  for (int k = 0; k < kSessions; ++k) {
    const auto& r = results[std::size_t(k)];
    EXPECT_TRUE(r.error.empty()) << "session " << k << ": " << r.error;
    EXPECT_EQ(r.pushed, chunks) << "session " << k;
    EXPECT_EQ(r.received, r.pushed) << "session " << k;
    EXPECT_EQ(r.mismatches, 0) << r.first_mismatch;
  }

  std::string series;
  for (auto b : samples) series += fmt::format(" {:.1f}", double(b) / (1 << 20));
  std::printf("soak: %d sessions x %d s, container memory (MiB):%s\n", kSessions, seconds, series.c_str());
  ASSERT_GE(samples.size(), 4u) << "too few memory samples";
  // Flat: from the first quarter of the run to its end, no more than 32 MiB of growth (a
  // leak of one 1.3 KB chunk per message would add ~40 MiB over two minutes).
  const std::int64_t early = samples[samples.size() / 4];
  const std::int64_t late = samples.back();
  EXPECT_LT(late - early, std::int64_t(32) << 20) << "memory grew:" << series;

  rm::docker::shutdown_shared_containers();
  auto left = client.container_list(owner, true);
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty()) << left->size() << " containers left";
  std::size_t files = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file()) ++files;
  EXPECT_EQ(files, 0u) << "IPC files left under " << root;
  fs::remove_all(root, ec);
}
