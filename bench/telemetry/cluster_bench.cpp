// Cluster mode load tool (bench/telemetry/cluster_bench.sh starts the NATS servers and the
// collectors): producers publish batches through the streamer's NATS publisher
// (NATS_PUBLISH_WINDOW batches in flight each, acknowledged once the stream's quorum stored
// them) while a gateway-side NatsFeed follows the applied stream in-process.
//
//   NATS_URL=... [NATS_REPLICAS=3] telemetry_cluster_bench [--seconds 10] [--producers 4]
//       [--batch 5000] [--gpus 247] [--rate 0] [--kill-after 0 --pids p0,p1,p2]
//
// Prints durable samples/s, ack p50/p99/max, row -> queryable p50/p99 (a probe batch every
// 50 ms, until the feed shows it) and, with --kill-after, kills the node leading the work
// queue stream at that second and reports the longest stall between acknowledgements.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "../../telemetry/src/cluster/nats_client.hpp"
#include "core/log.hpp"
#include "telemetry/cluster/nats_feed.hpp"
#include "telemetry/wire/publisher.hpp"

using namespace rm::telemetry;
using Clock = std::chrono::steady_clock;

namespace {
double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())))];
}
std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

int main(int argc, char** argv) {
  rm::core::init_logging("telemetry_cluster_bench");
  int seconds = 10, producers = 4, batch = 5000, ngpus = 247;
  double rate = 0;  // samples/s over all producers, 0 = as fast as acknowledged
  double kill_after = 0;
  std::string pids;
  bool timeline = false;
  CLI::App app{"cluster mode ingest benchmark (NATS_URL required)"};
  app.add_option("--seconds", seconds);
  app.add_option("--producers", producers);
  app.add_option("--batch", batch);
  app.add_option("--gpus", ngpus);
  app.add_option("--rate", rate, "paced load: samples/s over all producers (0 = unpaced)");
  app.add_option("--kill-after", kill_after, "kill the work-queue stream leader after this many seconds");
  app.add_option("--pids", pids, "pids of nats-server n0,n1,n2");
  app.add_flag("--timeline", timeline,
               "print every 100 ms of the run: batches sent and acked, ack latency max (by send time)");
  CLI11_PARSE(app, argc, argv);
  auto nc = nats_config_from_env();
  if (!nc || !*nc) {
    std::fprintf(stderr, "set NATS_URL (%s)\n", nc ? "unset" : nc.error().message.c_str());
    return 2;
  }
  StreamerConfig sc;
  sc.nats = *nc;
  sc.producer_prefix = fmt::format("bench-{}", ::getpid());
  auto factory = make_publisher_factory(sc);
  if (!factory) {
    std::fprintf(stderr, "%s\n", factory.error().message.c_str());
    return 1;
  }
  auto feed = NatsFeed::start(**nc, {.max_entries = 100000, .retention_ns = 0, .name = "bench-feed"});

  std::vector<GpuInfo> gpus(static_cast<std::size_t>(ngpus));
  for (int g = 0; g < ngpus; ++g) {
    auto& i = gpus[static_cast<std::size_t>(g)];
    i.id = fmt::format("GPU-bench-{}", g);
    i.uuid = i.id;
    i.gpu_index = std::to_string(g % 8);
    i.device = fmt::format("nvidia{}", g % 8);
    i.model = "NVIDIA H100 80GB HBM3";
    i.hostname = fmt::format("host-{}", g / 8);
  }
  std::atomic<bool> stop{false};
  {
    // A freshly created stream answers "no responders" until its leader is elected, and the
    // collectors fetch nothing until the durable consumer has one: the clock starts once a
    // warm-up batch went the whole way (acknowledged, applied, in the feed), so the run
    // measures the steady state, not the backlog of the elections.
    GpuInfo warm;
    warm.id = "GPU-warmup";
    auto pub = (*factory)(sc.producer_prefix + "-warmup", &stop, {});
    if (!pub->publish({{&warm, "warmup", 1, 1.0}}) || !pub->flush(std::chrono::seconds(30))) {
      std::fprintf(stderr, "the stream did not acknowledge a warm-up batch within 30 s\n");
      return 1;
    }
    const auto applied_by = Clock::now() + std::chrono::seconds(30);
    while (feed->latest("GPU-warmup").empty()) {
      if (Clock::now() > applied_by) {
        std::fprintf(stderr,
                     "the warm-up batch did not reach the applied stream within 30 s (collectors?)\n");
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::mutex mu;
  std::vector<double> ack_ms;
  std::vector<std::pair<double, double>> slow;     // (second of the run, ms) of acks above 20 ms
  std::vector<std::pair<double, double>> sent_ms;  // (second of the run it was sent, ack ms)
  std::vector<Clock::time_point> ack_times;
  std::atomic<std::uint64_t> samples{0};
  const auto t0 = Clock::now();
  const auto t0_wall = std::chrono::system_clock::now();
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      std::mutex mine_mu;  // OnAck runs on the NATS library's thread
      std::vector<double> mine;
      std::vector<std::pair<double, double>> my_slow, my_sent;
      std::vector<Clock::time_point> times;
      std::unordered_map<std::uint64_t, Clock::time_point> sent_at;
      std::uint64_t next = 1;
      auto pub =
          (*factory)(fmt::format("{}-p{}", sc.producer_prefix, p), &stop,
                     [&](std::uint64_t seq, const std::vector<OutSample>& s, bool) {
                       const auto e = Clock::now();
                       std::lock_guard lk(mine_mu);
                       if (auto it = sent_at.find(seq); it != sent_at.end()) {
                         const double ms = std::chrono::duration<double, std::milli>(e - it->second).count();
                         mine.push_back(ms);
                         my_sent.emplace_back(std::chrono::duration<double>(it->second - t0).count(), ms);
                         if (ms > 20) my_slow.emplace_back(std::chrono::duration<double>(e - t0).count(), ms);
                         sent_at.erase(it);
                       }
                       times.push_back(e);
                       samples += s.size();
                     });
      std::size_t k = static_cast<std::size_t>(p);
      const double per_producer = rate > 0 ? rate / producers : 0;
      for (std::uint64_t sent = 0; !stop; sent += static_cast<std::uint64_t>(batch)) {
        if (per_producer > 0) {
          // Acks reach OnAck as they arrive; flush while pacing republishes failed batches.
          // Producers are staggered evenly over one batch interval, as independent streamers
          // would be, instead of all publishing at the same instant.
          const double offset = static_cast<double>(batch) * p / producers;
          const auto due = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                    (static_cast<double>(sent) + offset) / per_producer));
          while (!stop && Clock::now() < due) {
            if (pub->flush(std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()))) {
              std::this_thread::sleep_until(due);
            }
          }
        }
        std::vector<OutSample> b;
        b.reserve(static_cast<std::size_t>(batch));
        const std::int64_t ts = wall_ns();
        for (int i = 0; i < batch; ++i)
          b.push_back({&gpus[k++ % gpus.size()], "DCGM_FI_DEV_GPU_UTIL", ts, double(i)});
        {
          std::lock_guard lk(mine_mu);
          sent_at[next++] = Clock::now();
        }
        if (!pub->publish(std::move(b))) break;
      }
      (void)pub->flush(std::chrono::seconds(10));
      pub.reset();
      std::lock_guard lk(mu);
      ack_ms.insert(ack_ms.end(), mine.begin(), mine.end());
      slow.insert(slow.end(), my_slow.begin(), my_slow.end());
      sent_ms.insert(sent_ms.end(), my_sent.begin(), my_sent.end());
      ack_times.insert(ack_times.end(), times.begin(), times.end());
    });
  }
  // Row -> queryable probe.
  std::vector<double> visible_ms;
  std::thread probe([&] {
    GpuInfo info;
    info.id = "GPU-probe";
    auto pub = (*factory)(sc.producer_prefix + "-probe", &stop, {});
    for (std::int64_t i = 1; !stop; ++i) {
      const auto s = Clock::now();
      if (!pub->publish({{&info, "probe", i, double(i)}})) break;
      while (!stop) {
        auto l = feed->latest("GPU-probe");
        if (!l.empty() && l[0].timestamp_ns == i) {
          visible_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::optional<Clock::time_point> killed_at;
  std::string killed;
  if (kill_after > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(kill_after));
    auto client = nats::Client::connect(**nc, "bench-admin", std::chrono::seconds(5));
    auto st = client ? (*client)->stream_state((*nc)->in_stream()) : tl::unexpected(client.error());
    std::vector<int> pid_list;
    std::stringstream ss(pids);
    for (std::string x; std::getline(ss, x, ',');) pid_list.push_back(std::stoi(x));
    if (st && st->leader.size() == 2 && st->leader[1] - '0' < static_cast<int>(pid_list.size())) {
      killed = st->leader;
      killed_at = Clock::now();
      ::kill(pid_list[static_cast<std::size_t>(st->leader[1] - '0')], SIGKILL);
    } else {
      std::fprintf(stderr, "cannot find the stream leader: %s\n",
                   st ? st->leader.c_str() : st.error().message.c_str());
    }
  }
  std::this_thread::sleep_until(t0 + std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  probe.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("replicas %d, %d producers x batch %d: %.0f durable samples/s (%llu in %.1f s)\n",
              (*nc)->replicas, producers, batch, static_cast<double>(samples.load()) / elapsed,
              static_cast<unsigned long long>(samples.load()), elapsed);
  std::printf("ack p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu batches)\n", pct(ack_ms, 50), pct(ack_ms, 99),
              pct(ack_ms, 100), ack_ms.size());
  if (!slow.empty()) {
    // When the slow acks came: a burst at one moment (a GC, an election, another process) or
    // spread over the run (the servers' steady queueing).
    std::sort(slow.begin(), slow.end());
    std::string when;
    for (std::size_t i = 0; i < slow.size() && i < 24; ++i)
      when += fmt::format(" {:.1f}s:{:.0f}", slow[i].first, slow[i].second);
    std::printf("acks above 20 ms: %zu, at (second of the run: ms)%s%s\n", slow.size(), when.c_str(),
                slow.size() > 24 ? " ..." : "");
  }
  if (timeline) {
    // Wall clock of the run's start, to line the timeline up with the servers' logs.
    const auto epoch_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t0_wall.time_since_epoch()).count();
    std::printf("timeline: run started at unix %.3f s; per 100 ms by send time: batches, ack max ms\n",
                static_cast<double>(epoch_ms) / 1000.0);
    std::sort(sent_ms.begin(), sent_ms.end());
    std::size_t i = 0;
    for (int b = 0; i < sent_ms.size(); ++b) {
      int n = 0;
      double mx = 0;
      for (; i < sent_ms.size() && sent_ms[i].first < (b + 1) * 0.1; ++i, ++n)
        mx = std::max(mx, sent_ms[i].second);
      std::printf("  %5.1f s %3d %7.1f%s\n", b * 0.1, n, mx, mx > 20 ? " *" : "");
    }
  }
  std::printf("row -> queryable (applied stream -> in-process feed): p50 %.1f ms, p99 %.1f ms (%zu probes)\n",
              pct(visible_ms, 50), pct(visible_ms, 99), visible_ms.size());
  {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    std::printf("bench process cpu: %.2f s user + %.2f s sys (producers, probe, feed)\n", sec(ru.ru_utime),
                sec(ru.ru_stime));
    auto client = nats::Client::connect(**nc, "bench-admin", std::chrono::seconds(5));
    auto st = client ? (*client)->stream_state((*nc)->applied_stream()) : tl::unexpected(client.error());
    // Bytes per sample once the feed holds everything the stream has (the collectors and the
    // feed may still be behind the producers when the clock stops).
    const auto settle = Clock::now() + std::chrono::seconds(20);
    while (st && Clock::now() < settle) {
      st = (*client)->stream_state((*nc)->applied_stream());
      if (!st || (feed->stats().last_seq >= st->last_seq && st->last_seq > 0)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const auto fed = feed->stats();
    if (st && fed.samples > 0) {
      std::printf(
          "applied stream: %llu bytes for %llu messages, %llu samples: %.2f bytes/sample per replica\n",
          static_cast<unsigned long long>(st->bytes), static_cast<unsigned long long>(st->messages),
          static_cast<unsigned long long>(fed.samples),
          static_cast<double>(st->bytes) / static_cast<double>(fed.samples));
    }
  }
  if (killed_at) {
    std::sort(ack_times.begin(), ack_times.end());
    auto first_after = std::upper_bound(ack_times.begin(), ack_times.end(), *killed_at);
    double gap = 0;
    for (auto it = ack_times.begin(); it + 1 != ack_times.end() && !ack_times.empty(); ++it) {
      gap = std::max(gap, std::chrono::duration<double, std::milli>(*(it + 1) - *it).count());
    }
    std::printf(
        "killed leader %s: first ack after the kill %.0f ms later; longest stall between acks %.0f ms\n",
        killed.c_str(),
        first_after == ack_times.end()
            ? -1.0
            : std::chrono::duration<double, std::milli>(*first_after - *killed_at).count(),
        gap);
  }
  feed->stop();
  return 0;
}
