// NATS_* configuration of cluster mode: defaults, parsing of NATS_URL, and bad values named.
#include <cstdlib>

#include <gtest/gtest.h>

#include "telemetry/cluster/nats.hpp"

using rm::telemetry::nats_config_from_env;

namespace {
void clear_nats_env() {
  for (const char* k : {"NATS_URL", "NATS_STREAM", "NATS_SUBJECT", "NATS_REPLICAS", "NATS_MAX_BYTES",
                        "NATS_MAX_AGE_S", "NATS_DUPLICATE_WINDOW_S", "NATS_ACK_WAIT_MS", "NATS_CONSUMER",
                        "NATS_FETCH", "NATS_PUBLISH_TIMEOUT_MS", "NATS_PUBLISH_WINDOW"}) {
    ::unsetenv(k);
  }
}
// Sets the given variables on a clean NATS_* environment; clears them again at scope exit.
struct Env {
  explicit Env(std::initializer_list<std::pair<const char*, const char*>> vars) {
    clear_nats_env();
    for (auto [k, v] : vars) ::setenv(k, v, 1);
  }
  ~Env() { clear_nats_env(); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
};
}  // namespace

TEST(NatsConfig, without_nats_url_cluster_mode_is_off) {
  Env e({});
  auto c = nats_config_from_env();
  ASSERT_TRUE(c);
  EXPECT_FALSE(*c);
  ::setenv("NATS_URL", "", 1);
  auto empty = nats_config_from_env();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
}

TEST(NatsConfig, nats_url_lists_every_server_and_the_defaults_are_documented_ones) {
  Env e({{"NATS_URL", "nats://h1:4222, h2:4223 ,,nats://h3:4224"}});
  auto c = nats_config_from_env();
  ASSERT_TRUE(c && *c) << (c ? "" : c.error().message);
  const auto& n = **c;
  EXPECT_EQ(n.servers, (std::vector<std::string>{"nats://h1:4222", "nats://h2:4223", "nats://h3:4224"}));
  EXPECT_EQ(n.replicas, 3);
  EXPECT_EQ(n.in_stream(), "TELEMETRY_IN");
  EXPECT_EQ(n.applied_stream(), "TELEMETRY");
  EXPECT_EQ(n.in_subject(), "telemetry.in");
  EXPECT_EQ(n.applied_subject(), "telemetry.applied");
  EXPECT_EQ(n.ack_wait_ms, 3000);
  EXPECT_EQ(n.duplicate_window_s, 120);
  EXPECT_EQ(n.consumer, "collectors");
  EXPECT_EQ(n.publish_window, 8);
  EXPECT_EQ(rm::telemetry::nats_msg_id("host-1-w0", 42), "host-1-w0:42");
}

TEST(NatsConfig, bad_values_are_refused_with_the_variable_named) {
  struct Case {
    const char* var;
    const char* value;
    const char* expect;
  } cases[] = {
      {"NATS_URL", "http://h1:4222", "NATS_URL"},
      {"NATS_URL", " , ", "NATS_URL"},
      {"NATS_REPLICAS", "0", "NATS_REPLICAS"},
      {"NATS_REPLICAS", "three", "NATS_REPLICAS"},
      {"NATS_ACK_WAIT_MS", "5", "NATS_ACK_WAIT_MS"},
      {"NATS_STREAM", "a.b", "NATS_STREAM"},
      {"NATS_SUBJECT", "x.>", "NATS_SUBJECT"},
      {"NATS_FETCH", "0", "NATS_FETCH"},
      {"NATS_PUBLISH_WINDOW", "0", "NATS_PUBLISH_WINDOW"},
  };
  for (const auto& k : cases) {
    Env e({{"NATS_URL", "nats://h1:4222"}, {k.var, k.value}});
    auto c = nats_config_from_env();
    ASSERT_FALSE(c) << k.var << "=" << k.value;
    EXPECT_NE(c.error().message.find(k.expect), std::string::npos) << c.error().message;
    EXPECT_EQ(c.error().code, rm::telemetry::TelemetryErrc::invalid_argument);
  }
}
