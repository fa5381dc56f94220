// Hostile or broken clients on the broker port: deadlines, limits, a connection cap, a token,
// timestamps out of range; and a collector whose descriptors run out keeps answering health
// and metrics.
#include <signal.h>

#include "fault_util.hpp"
#include "integration/ingest/process.hpp"
#include "telemetry/ingest/broker.hpp"

namespace rm::telemetry::faults {
namespace {

class BrokerFaults : public ::testing::Test {
 protected:
  void start(BrokerOptions bo) {
    StoreOptions so;
    so.dir = dir_.path() / "store";
    so.checkpoints = false;
    auto s = Store::open(so);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    bo.bind_address = "127.0.0.1";
    bo.port = 0;
    bo.threads = 2;
    broker_ = std::make_unique<BrokerServer>(*store_, bo);
    auto p = broker_->start();
    ASSERT_TRUE(p) << p.error().message;
    port_ = *p;
  }
  void TearDown() override {
    if (broker_) broker_->stop(2s);
    if (store_) store_->close();
  }
  const BrokerStats& stats() const { return broker_->stats(); }
  ScratchDir dir_{"broker"};
  std::unique_ptr<Store> store_;
  std::unique_ptr<BrokerServer> broker_;
  std::uint16_t port_ = 0;
};

TEST_F(BrokerFaults, sockets_that_never_send_hello_are_closed_at_the_hello_deadline) {
  BrokerOptions bo;
  bo.hello_timeout = 300ms;
  start(bo);
  std::vector<RawSocket> socks;
  for (int i = 0; i < 200; ++i) socks.emplace_back(port_);
  for (auto& s : socks) ASSERT_TRUE(s.ok());
  for (auto& s : socks) EXPECT_TRUE(s.closed_by_peer(10s));
  ASSERT_TRUE(wait_until([&] { return stats().connections_open.load() == 0; }, 10s));
  EXPECT_EQ(stats().timeouts.load(), 200u);
}

TEST_F(BrokerFaults, a_frame_left_unfinished_is_dropped_at_the_frame_deadline) {
  BrokerOptions bo;
  bo.frame_timeout = 300ms;
  start(bo);
  RawSocket s(port_);
  ASSERT_TRUE(s.send(hello_frame("half-sender")));
  // A PUBLISH header announcing 1 MiB, then only a few bytes of it.
  std::string partial;
  const std::uint32_t len = 1U << 20;
  partial.append(reinterpret_cast<const char*>(&len), 4);
  partial.push_back(static_cast<char>(FrameType::publish));
  partial.append(100, '\0');
  ASSERT_TRUE(s.send(partial));
  EXPECT_TRUE(s.closed_by_peer(10s));
  EXPECT_EQ(stats().timeouts.load(), 1u);
  EXPECT_EQ(stats().batches.load(), 0u);
}

TEST_F(BrokerFaults, a_producer_with_nothing_in_flight_is_closed_after_the_idle_timeout) {
  BrokerOptions bo;
  bo.idle_timeout = 300ms;
  start(bo);
  BrokerClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", port_, "idle-producer", 5s));
  auto r = c.read_ack(10s);
  ASSERT_FALSE(r) << "the broker closes an idle connection";
  EXPECT_EQ(stats().timeouts.load(), 1u);
}

TEST_F(BrokerFaults, a_large_frame_before_hello_is_refused_without_buffering_it) {
  start(BrokerOptions{});
  RawSocket s(port_);
  std::string header;
  const std::uint32_t len = 16U << 20;
  header.append(reinterpret_cast<const char*>(&len), 4);
  header.push_back(static_cast<char>(FrameType::hello));
  ASSERT_TRUE(s.send(header));
  std::string got;
  EXPECT_TRUE(s.closed_by_peer(10s, &got));
  auto e = first_error(got);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ErrorCode::frame_too_large);
  EXPECT_NE(e->message.find("4096"), std::string::npos) << e->message;
}

TEST_F(BrokerFaults, connections_above_the_cap_are_refused_with_a_clear_error) {
  BrokerOptions bo;
  bo.max_connections = 5;
  start(bo);
  std::vector<BrokerClient> held(5);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(held[static_cast<std::size_t>(i)].connect("127.0.0.1", port_, fmt::format("p{}", i), 5s));
  }
  RawSocket extra(port_);
  std::string got;
  EXPECT_TRUE(extra.closed_by_peer(10s, &got));
  auto e = first_error(got);
  ASSERT_TRUE(e) << "refused with an ERROR frame";
  EXPECT_EQ(e->code, ErrorCode::too_many_connections);
  EXPECT_NE(e->message.find("cap of 5 connections"), std::string::npos) << e->message;
  EXPECT_EQ(stats().refused.load(), 1u);
  // Closing one makes room again.
  held[0].close();
  ASSERT_TRUE(wait_until([&] { return stats().connections_open.load() == 4; }, 10s));
  BrokerClient again;
  EXPECT_TRUE(again.connect("127.0.0.1", port_, "p-again", 5s));
}

TEST_F(BrokerFaults, a_publisher_without_the_shared_token_is_refused) {
  BrokerOptions bo;
  bo.token = "s3cret";
  start(bo);
  BrokerClient none, wrong, right;
  auto r1 = none.connect("127.0.0.1", port_, "no-token", 5s);
  ASSERT_FALSE(r1);
  EXPECT_TRUE(r1.error().fatal);
  EXPECT_NE(r1.error().message.find("unauthorized"), std::string::npos) << r1.error().message;
  auto r2 = wrong.connect("127.0.0.1", port_, "wrong-token", 5s, "guess");
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("wrong token"), std::string::npos) << r2.error().message;
  EXPECT_TRUE(right.connect("127.0.0.1", port_, "right-token", 5s, "s3cret"));
  EXPECT_EQ(stats().unauthorized.load(), 2u);
}

TEST_F(BrokerFaults, samples_with_timestamps_out_of_range_are_rejected_and_counted) {
  start(BrokerOptions{});
  GpuInfo g;
  g.id = "GPU-ts";
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (std::int64_t bad : {std::numeric_limits<std::int64_t>::min(), std::int64_t{-1},
                           now + std::int64_t{48} * 3600 * 1'000'000'000}) {
    BrokerClient c;
    ASSERT_TRUE(c.connect("127.0.0.1", port_, fmt::format("ts-{}", bad), 5s));
    ASSERT_TRUE(c.publish(1, {OutSample{&g, "DCGM_FI_DEV_GPU_UTIL", now, 1.0},
                              OutSample{&g, "DCGM_FI_DEV_GPU_UTIL", bad, 2.0}}));
    auto r = c.read_ack(10s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::optional<ErrorCode>(ErrorCode::bad_timestamp)) << r.error().message;
    EXPECT_TRUE(r.error().fatal);
  }
  BrokerClient ok;
  ASSERT_TRUE(ok.connect("127.0.0.1", port_, "ts-ok", 5s));
  ASSERT_TRUE(ok.publish(1, {OutSample{&g, "DCGM_FI_DEV_GPU_UTIL", now, 3.0}}));
  auto a = ok.read_ack(10s);
  ASSERT_TRUE(a && *a);
  EXPECT_EQ(stats().bad_timestamps.load(), 3u);
  EXPECT_EQ(store_->index().sample_count(), 1u) << "nothing of a rejected batch is stored";
}

// A producer that sends batches (within its credit: paced by the broker's own ACK count) and
// never reads an ACK, on a 4 KiB receive window, until the broker closes it. Returns the
// number of batches it sent; each holds one sample with its own seq, spread over 64 GPUs so
// the index's per-GPU cap (MAX_ENTRIES) never drops one.
std::uint64_t publish_without_reading_acks(std::uint16_t port, const BrokerStats& st, std::uint32_t credits,
                                           std::chrono::seconds limit) {
  RawSocket s(port, 4096);
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(s.send(hello_frame("never-reads")));
  std::vector<GpuInfo> gpus(64);
  for (std::size_t i = 0; i < gpus.size(); ++i) gpus[i].id = fmt::format("GPU-deaf-{}", i);
  PublishEncoder enc;
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::uint64_t sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (st.write_timeouts.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    if (sent - st.acks.load() >= credits) {
      std::this_thread::sleep_for(100us);
      continue;
    }
    std::string frame;
    const OutSample smp{&gpus[sent % gpus.size()], "DCGM_FI_DEV_GPU_UTIL",
                        now + static_cast<std::int64_t>(sent), 1.0};
    enc.encode(frame, sent + 1, {smp});
    if (!s.send(frame)) break;  // the broker closed the connection
    ++sent;
  }
  return sent;
}

TEST_F(BrokerFaults, a_producer_that_never_reads_its_acks_is_closed_at_the_write_deadline_losing_nothing) {
  BrokerOptions bo;
  bo.write_timeout = 300ms;
  bo.idle_timeout = 60s;
  start(bo);
  const auto sent = publish_without_reading_acks(port_, stats(), bo.credits, 60s);
  ASSERT_EQ(stats().write_timeouts.load(), 1u) << "closed by the write deadline after " << sent << " batches";
  ASSERT_TRUE(wait_until([&] { return stats().connections_open.load() == 0; }, 10s));
  ASSERT_TRUE(wait_until([&] { return stats().in_flight.load() == 0; }, 10s));
  // Every batch the broker received was stored exactly once; the producer's last sends may
  // have met the closed socket.
  const auto received = stats().batches.load();
  EXPECT_GT(received, 100u) << "the ACKs filled the socket buffers first";
  EXPECT_LE(received, sent);
  EXPECT_GE(received + bo.credits, sent);
  EXPECT_EQ(store_->index().sample_count(), received);
  EXPECT_EQ(stats().duplicates.load(), 0u);
  EXPECT_EQ(stats().timeouts.load(), 0u) << "a stalled write is not an idle or frame timeout";
  // The broker still serves others.
  BrokerClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", port_, "reads-acks", 5s));
  GpuInfo g;
  g.id = "GPU-ok";
  ASSERT_TRUE(c.publish(1, {OutSample{&g, "DCGM_FI_DEV_GPU_UTIL", 1, 2.0}}));
  auto a = c.read_ack(10s);
  ASSERT_TRUE(a && *a);
  EXPECT_EQ(store_->index().sample_count(), received + 1);
}

TEST_F(BrokerFaults, answers_piling_up_past_the_unsent_cap_close_the_connection_before_the_write_deadline) {
  BrokerOptions bo;
  bo.write_timeout = 600s;  // never reached: the cap closes it first
  bo.max_unsent = 16 * 1024;
  bo.idle_timeout = 60s;
  start(bo);
  const auto t0 = std::chrono::steady_clock::now();
  const auto sent = publish_without_reading_acks(port_, stats(), bo.credits, 60s);
  ASSERT_EQ(stats().write_timeouts.load(), 1u) << "closed at the unsent cap after " << sent << " batches";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);
  ASSERT_TRUE(wait_until([&] { return stats().connections_open.load() == 0; }, 10s));
  ASSERT_TRUE(wait_until([&] { return stats().in_flight.load() == 0; }, 10s));
  EXPECT_EQ(store_->index().sample_count(), stats().batches.load());
  EXPECT_EQ(stats().duplicates.load(), 0u);
}

TEST(TelemetryFaults, health_and_metrics_keep_answering_when_idle_sockets_reach_the_descriptor_limit) {
  ScratchDir scratch("fd-limit");
  test::CollectorPorts ports;
  const auto log_path = (scratch.path() / "collector.log").string();
  auto collector = test::start_collector(scratch.path(), ports, {{"BROKER_HELLO_TIMEOUT_MS", "60000"}},
                                         log_path, /*max_fds=*/256);
  ASSERT_TRUE(collector) << slurp(log_path);
  std::vector<RawSocket> socks;
  for (int i = 0; i < 400; ++i) socks.emplace_back(ports.broker);
  // The cap (256 - 128) is reached; the rest are refused with an ERROR frame.
  auto m = core::http::get("127.0.0.1", ports.metrics, "/metrics", 5s);
  ASSERT_TRUE(wait_until(
      [&] {
        m = core::http::get("127.0.0.1", ports.metrics, "/metrics", 5s);
        return m && metric_value(m->body, "telemetry_collector_connections_refused_total") >= 272;
      },
      20s))
      << (m ? m->body : m.error());
  EXPECT_EQ(metric_value(m->body, "telemetry_collector_connections_open"), 128.0);
  EXPECT_EQ(metric_value(m->body, "process_max_fds"), 256.0);
  auto h = core::http::get("127.0.0.1", ports.health, "/health", 5s);
  ASSERT_TRUE(h) << h.error();
  EXPECT_EQ(h->status, 200);
  socks.clear();
  collector->signal(SIGTERM);
  EXPECT_EQ(collector->wait(20s), std::optional<int>(0));
  EXPECT_LT(fs::file_size(log_path), 64U * 1024) << "refusals are logged at most once a second";
}

// A connection cap set above the descriptor limit: accept() itself fails (EMFILE). The broker
// pauses accepting (10 ms doubling to 1 s) instead of spinning, logs it at most once a second,
// and accepts again by itself once descriptors are free.
TEST(TelemetryFaults, accept_errors_at_the_descriptor_limit_pause_accepts_log_once_a_second_and_recover) {
  ScratchDir scratch("emfile");
  test::CollectorPorts ports;
  const auto log_path = (scratch.path() / "collector.log").string();
  auto collector = test::start_collector(
      scratch.path(), ports, {{"BROKER_HELLO_TIMEOUT_MS", "60000"}, {"BROKER_MAX_CONNECTIONS", "100000"}},
      log_path,
      /*max_fds=*/256);
  ASSERT_TRUE(collector) << slurp(log_path);
  {
    std::vector<RawSocket> socks;
    for (int i = 0; i < 400; ++i) socks.emplace_back(ports.broker);
    ASSERT_TRUE(wait_until([&] { return slurp(log_path).find("accept failed") != std::string::npos; }, 20s))
        << slurp(log_path);
    std::this_thread::sleep_for(1500ms);  // several paused retries, at most two log lines
  }  // the sockets close: their descriptors in the collector are freed as it reads EOF
  std::optional<core::http::ClientResponse> m;
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = core::http::get("127.0.0.1", ports.metrics, "/metrics", 2s);
        if (r) m = *r;
        return r && r->status == 200 && metric_value(r->body, "telemetry_collector_connections_open") == 0.0;
      },
      30s));
  const double accept_errors = metric_value(m->body, "telemetry_collector_accept_errors_total");
  const std::string log = slurp(log_path);
  std::size_t lines = 0;
  for (auto at = log.find("accept failed"); at != std::string::npos; at = log.find("accept failed", at + 1))
    ++lines;
  EXPECT_GE(accept_errors, 2.0);
  EXPECT_GE(lines, 1u);
  EXPECT_LT(static_cast<double>(lines), accept_errors) << "repeated accept errors share a log line\n" << log;
  EXPECT_LT(log.size(), 64U * 1024);
  // Accepting resumed by itself: a producer gets its batch acknowledged.
  BrokerClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", ports.broker, "after-emfile", 10s));
  GpuInfo g;
  g.id = "GPU-after";
  ASSERT_TRUE(c.publish(1, {OutSample{&g, "DCGM_FI_DEV_GPU_UTIL", 1'700'000'000'000'000'000, 1.0}}));
  auto a = c.read_ack(10s);
  ASSERT_TRUE(a && *a) << (a ? "no ack" : a.error().message);
  c.close();
  collector->signal(SIGTERM);
  EXPECT_EQ(collector->wait(20s), std::optional<int>(0));
}

}  // namespace
}  // namespace rm::telemetry::faults
