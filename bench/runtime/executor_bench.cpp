// Executor benchmarks (numbers in docs/benchmarks.md, "Runtime (native executor)"):
//   1. per-hop latency through a chain of N native relay nodes: one small message at a time,
//      time from push() to the output callback, divided by the number of hops; p50/p99.
//   2. throughput through one relay hop: messages/s pushed from one thread into a session and
//      received by the output callback, with the pipeline kept full.
// Usage: bench_runtime_executor [--hops 5] [--latency-msgs 20000] [--throughput-msgs 2000000]
//                               [--spin-us 50] [--queue 256]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "runtime/executor.hpp"
#include "runtime/node_registry.hpp"

using namespace rm::runtime;
using Clock = std::chrono::steady_clock;

namespace {

// A relay node defined here so the bench does not depend on the node library.
class BenchRelay : public Node {
 public:
  explicit BenchRelay(const NodeInit&) {}
  Status process(const DataPtr& in, Emitter& out) override { return out.emit(in); }
};

NodeContract relay_contract() {
  NodeContract c;
  c.node_type = "BenchRelay";
  c.description = "forwards every input";
  return c;
}
RM_REGISTER_NODE(BenchRelay, relay_contract());

Manifest chain(int hops) {
  std::string y = "version: v1\nnodes:\n";
  for (int i = 0; i < hops; ++i) y += "  - {id: n" + std::to_string(i) + ", node_type: BenchRelay}\n";
  y += "connections:\n  - {from: in, to: n0}\n";
  for (int i = 1; i < hops; ++i)
    y += "  - {from: n" + std::to_string(i - 1) + ", to: n" + std::to_string(i) + "}\n";
  auto m = Manifest::from_string(y);
  if (!m) {
    std::fprintf(stderr, "%s", m.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(*m);
}

double pct(std::vector<double>& v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * double(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  int hops = 5;
  long latency_msgs = 20000, throughput_msgs = 2'000'000;
  long spin_us = 100, queue = 256;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    long v = std::atol(argv[i + 1]);
    if (a == "--hops")
      hops = int(v);
    else if (a == "--latency-msgs")
      latency_msgs = v;
    else if (a == "--throughput-msgs")
      throughput_msgs = v;
    else if (a == "--spin-us")
      spin_us = v;
    else if (a == "--queue")
      queue = v;
  }

  // 1. Latency: one message in flight at a time (ping-pong), so the number is pure hop cost.
  {
    PipelineExecutor ex(chain(hops));
    std::atomic<long> seen{0};
    std::atomic<std::int64_t> recv_ns{0};
    SessionOptions o;
    o.spin = std::chrono::microseconds(spin_us);
    o.queue_capacity = std::size_t(queue);
    o.on_output = [&](const std::string&, const DataPtr&) {
      recv_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
      seen.fetch_add(1, std::memory_order_release);
    };
    auto s = ex.start_session(o);
    if (!s) return 1;
    std::vector<double> per_hop_us;
    per_hop_us.reserve(std::size_t(latency_msgs));
    auto msg = RuntimeData::make_text("x", 0);
    for (long i = 0; i < latency_msgs + 1000; ++i) {
      auto t0 = Clock::now();
      (void)(*s)->push("in", msg);
      // Wait without holding a core: on a 2-core machine the node threads need both.
      while (seen.load(std::memory_order_acquire) <= i) std::this_thread::yield();
      auto dt = std::chrono::duration<double, std::micro>(
          Clock::duration(recv_ns.load(std::memory_order_relaxed)) - t0.time_since_epoch());
      if (i >= 1000) per_hop_us.push_back(dt.count() / hops);  // first 1000 are warm-up
    }
    (*s)->close_all_inputs();
    (void)(*s)->wait();
    double p50 = pct(per_hop_us, 0.50), p99 = pct(per_hop_us, 0.99);
    std::printf(
        "latency: %d-node chain, %ld msgs, spin %ld us: per hop p50 %.2f us, p99 %.2f us "
        "(end to end p50 %.2f us)\n",
        hops, latency_msgs, spin_us, p50, p99, p50 * hops);
  }

  // 2. Throughput through one relay hop.
  {
    PipelineExecutor ex(chain(1));
    std::atomic<long> seen{0};
    SessionOptions o;
    o.spin = std::chrono::microseconds(spin_us);
    o.queue_capacity = std::size_t(queue);
    o.on_output = [&](const std::string&, const DataPtr&) { seen.fetch_add(1, std::memory_order_relaxed); };
    auto s = ex.start_session(o);
    if (!s) return 1;
    auto msg = RuntimeData::make_text("x", 0);
    auto t0 = Clock::now();
    for (long i = 0; i < throughput_msgs; ++i) (void)(*s)->push("in", msg);
    (*s)->close_all_inputs();
    (void)(*s)->wait();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("throughput: 1 relay hop, %ld msgs, queue %ld: %.2f M msgs/s (%ld received)\n",
                throughput_msgs, queue, double(throughput_msgs) / secs / 1e6, seen.load());
  }
  return 0;
}
