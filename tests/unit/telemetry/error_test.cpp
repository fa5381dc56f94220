// The module's error values at its boundaries: each failure has its code and a message that
// names the file, address or value.
#include <fstream>

#include <gtest/gtest.h>

#include "store_util.hpp"
#include "support/temp_dir.hpp"
#include "telemetry/error.hpp"
#include "telemetry/gateway/gateway_time.hpp"
#include "telemetry/ingest/broker.hpp"
#include "telemetry/storage/replay.hpp"
#include "telemetry/storage/wal.hpp"

using namespace rm::telemetry;
namespace fs = std::filesystem;

namespace {

bool has(const TelemetryError& e, const std::string& part) {
  return e.message.find(part) != std::string::npos;
}

}  // namespace

TEST(TelemetryError, every_code_has_a_name_and_the_full_form_is_code_then_message) {
  for (auto c :
       {TelemetryErrc::invalid_argument, TelemetryErrc::io, TelemetryErrc::corrupt, TelemetryErrc::not_found,
        TelemetryErrc::unavailable, TelemetryErrc::protocol, TelemetryErrc::timeout, TelemetryErrc::state}) {
    EXPECT_NE(to_string(c), "unknown telemetry error") << static_cast<int>(c);
  }
  EXPECT_EQ(to_string(TelemetryError{TelemetryErrc::not_found, "DATA_DIR '/x' does not exist"}),
            "not found: DATA_DIR '/x' does not exist");
}

TEST(TelemetryError, a_bad_time_or_duration_is_an_invalid_argument_naming_the_text) {
  auto t = parse_rfc3339("yesterday");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, TelemetryErrc::invalid_argument);
  EXPECT_TRUE(has(t.error(), "'yesterday'")) << t.error().message;
  auto d = parse_duration_ns("RETENTION", "a week");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, TelemetryErrc::invalid_argument);
  EXPECT_TRUE(has(d.error(), "RETENTION='a week'")) << d.error().message;
}

TEST(TelemetryError, a_missing_file_is_not_found_and_a_garbage_checkpoint_is_corrupt_both_naming_the_file) {
  rm::test::TempDir dir("rm-telemetry-error");
  const fs::path missing = dir.path() / "checkpoint.0000000000000007";
  auto r = read_file(missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, TelemetryErrc::not_found);
  EXPECT_TRUE(has(r.error(), missing.string())) << r.error().message;

  const fs::path garbage = dir.path() / "checkpoint.0000000000000008";
  std::ofstream(garbage) << "not a checkpoint at all";
  Index index(10);
  ReplayState state(index);
  auto c = load_checkpoint(garbage, state);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, TelemetryErrc::corrupt);
  EXPECT_TRUE(has(c.error(), garbage.string())) << c.error().message;
  EXPECT_EQ(index.sample_count(), 0u);
}

TEST(TelemetryError, a_broker_on_a_bad_address_or_a_taken_port_says_which_and_what_to_do) {
  rm::test::TempDir dir("rm-telemetry-error");
  auto store = test::open_store(dir.path() / "store");
  ASSERT_TRUE(store);
  BrokerOptions bad;
  bad.bind_address = "not-an-address";
  bad.port = 0;
  BrokerServer b1(*store, bad);
  auto r1 = b1.start();
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code, TelemetryErrc::invalid_argument);
  EXPECT_TRUE(has(r1.error(), "'not-an-address'")) << r1.error().message;

  BrokerOptions first;
  first.bind_address = "127.0.0.1";
  first.port = 0;
  BrokerServer b2(*store, first);
  auto port = b2.start();
  ASSERT_TRUE(port) << port.error().message;
  BrokerOptions same = first;
  same.port = *port;
  BrokerServer b3(*store, same);
  auto r3 = b3.start();
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code, TelemetryErrc::io);
  EXPECT_TRUE(has(r3.error(), "127.0.0.1:" + std::to_string(*port))) << r3.error().message;
  EXPECT_TRUE(has(r3.error(), "BROKER_PORT")) << r3.error().message;
  b2.stop();
  store->close();
}
