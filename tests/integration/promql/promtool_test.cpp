// promtool (Prometheus' own CLI, not written here) queries the gateway: instant, range,
// series and label values, against the real DCGM export in a real index.
#include <sys/wait.h>
#include <cstdio>

#include <gtest/gtest.h>

#include "core/http.hpp"
#include "promql/http_api.hpp"
#include "support/dcgm_index.hpp"
#include "telemetry/gateway/gateway.hpp"

using namespace promql_test;

namespace {

struct Served {
  Served() : gw(dcgm_index(9), promql_gateway_options()), server(gw.router(), server_options()) {
    auto ok = server.start();
    EXPECT_TRUE(ok) << (ok ? "" : ok.error());
    url = "http://127.0.0.1:" + std::to_string(server.port());
  }
  static rm::core::http::ServerOptions server_options() {
    rm::core::http::ServerOptions so;
    so.host = "127.0.0.1";
    so.threads = 2;
    return so;
  }
  rm::telemetry::Gateway gw;
  rm::core::http::Server server;
  std::string url;
};

int run(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::size_t count_lines(const std::string& s, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

const std::string kEnd = "2025-07-18T20:44:34Z";  // last round: kBase + 8 * 15 s

}  // namespace

TEST(Promtool, instant_query_counts_every_gpu_of_the_dcgm_export) {
  Served s;
  std::string out;
  ASSERT_EQ(
      run("promtool query instant --time=" + kEnd + " " + s.url + " 'count(DCGM_FI_DEV_GPU_UTIL)'", out), 0)
      << out;
  EXPECT_NE(out.find("=> 247 @["), std::string::npos) << out;
  ASSERT_EQ(run("promtool query instant --time=" + kEnd + " " + s.url +
                    " 'count by (Hostname) (DCGM_FI_DEV_GPU_TEMP)'",
                out),
            0)
      << out;
  EXPECT_EQ(count_lines(out, "{Hostname="), 31u) << out;
}

TEST(Promtool, range_query_returns_one_point_per_step_for_each_gpu) {
  Served s;
  std::string out;
  ASSERT_EQ(run("promtool query range --start=2025-07-18T20:42:34Z --end=" + kEnd + " --step=30s " + s.url +
                    " 'max by (Hostname) (DCGM_FI_DEV_POWER_USAGE)'",
                out),
            0)
      << out;
  EXPECT_EQ(count_lines(out, "{Hostname="), 31u) << out;
  EXPECT_EQ(count_lines(out, " @["), 31u * 5) << out;  // 0, 30, 60, 90, 120 s
}

TEST(Promtool, series_and_label_values_list_what_the_api_lists) {
  Served s;
  std::string out;
  // promtool's default window is now +- 9999 h, which the 2025 export is outside of.
  const std::string window = " --start=2025-07-18T20:00:00Z --end=2025-07-18T21:00:00Z ";
  ASSERT_EQ(run("promtool query series" + window + "--match='DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"}' " + s.url, out),
            0)
      << out;
  EXPECT_EQ(count_lines(out, "__name__=\"DCGM_FI_DEV_GPU_UTIL\""), 31u) << out;
  ASSERT_EQ(run("promtool query labels" + window + s.url + " Hostname", out), 0) << out;
  std::size_t lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 31u) << out;
}

TEST(Promtool, an_unsupported_query_fails_with_the_servers_message) {
  Served s;
  std::string out;
  EXPECT_NE(run("promtool query instant " + s.url + " 'histogram_quantile(0.9, x)'", out), 0);
  EXPECT_NE(out.find("not supported"), std::string::npos) << out;
}
