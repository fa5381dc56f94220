// Two collectors on one store directory: the second refuses to start.
#include <signal.h>

#include "fault_util.hpp"
#include "integration/ingest/process.hpp"

namespace rm::telemetry::faults {
namespace {

using test::CollectorPorts;
using test::Process;
using test::start_collector;

TEST(TelemetryFaults, a_second_collector_on_the_same_directory_refuses_to_start_naming_it_and_the_first_pid) {
  ScratchDir scratch("two-writers");
  CollectorPorts a_ports, b_ports;
  const auto a_log = (scratch.path() / "a.log").string();
  auto a = start_collector(scratch.path(), a_ports, {}, a_log);
  ASSERT_TRUE(a) << slurp(a_log);
  const auto b_log = (scratch.path() / "b.log").string();
  Process b(test::bin("telemetry-collector"), {},
            {{"DATA_DIR", scratch.path().string()},
             {"COLLECTOR_ID", "collector-test"},
             {"BROKER_PORT", std::to_string(b_ports.broker)},
             {"HEALTH_PORT", std::to_string(b_ports.health)},
             {"METRICS_PORT", std::to_string(b_ports.metrics)},
             {"BIND", "127.0.0.1"}},
            {}, b_log);
  EXPECT_EQ(b.wait(20s), std::optional<int>(1)) << slurp(b_log);
  const auto msg = slurp(b_log);
  EXPECT_NE(msg.find((scratch.path() / "collector-test").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(fmt::format("pid {}", a->pid())), std::string::npos) << msg;
  // The first one keeps working.
  auto r = core::http::get("127.0.0.1", a_ports.health, "/ready", 2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  a->signal(SIGTERM);
  EXPECT_EQ(a->wait(20s), std::optional<int>(0)) << slurp(a_log);
}

TEST(TelemetryFaults, a_killed_collector_leaves_no_stale_lock_behind) {
  ScratchDir scratch("stale-lock");
  CollectorPorts ports;
  const auto log1 = (scratch.path() / "1.log").string();
  auto first = start_collector(scratch.path(), ports, {}, log1);
  ASSERT_TRUE(first) << slurp(log1);
  first->signal(SIGKILL);
  ASSERT_TRUE(first->wait(10s));
  CollectorPorts again;
  const auto log2 = (scratch.path() / "2.log").string();
  auto second = start_collector(scratch.path(), again, {}, log2);
  ASSERT_TRUE(second) << slurp(log2);
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait(20s), std::optional<int>(0));
}

}  // namespace
}  // namespace rm::telemetry::faults
