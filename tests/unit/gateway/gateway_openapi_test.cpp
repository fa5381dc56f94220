// The OpenAPI document is generated from the route table: every route is in it, and every
// documented path answers as documented on a running gateway (real server, real socket).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/http.hpp"
#include "core/http_client.hpp"
#include "core/metrics.hpp"
#include "gateway_fixture.hpp"

using namespace gateway_test;
using rm::telemetry::Gateway;
namespace json = boost::json;
namespace http = rm::core::http;

namespace {

int promtool_check(const std::string& text, std::string& out) {
  auto file =
      std::filesystem::temp_directory_path() / ("rm-gateway-metrics-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(file) << text;
  FILE* p = ::popen(("promtool check metrics < " + file.string() + " 2>&1").c_str(), "r");
  char buf[512];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  std::filesystem::remove(file);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(GatewayOpenApi, every_route_is_documented_with_its_parameters) {
  Gateway gw(sample_index(), no_collector());
  auto doc = gw.openapi().as_object();
  EXPECT_EQ(doc.at("openapi").as_string(), "3.0.3");
  auto& paths = doc.at("paths").as_object();
  for (const auto& route : gw.routes()) {
    ASSERT_TRUE(paths.contains(route.path)) << route.path;
    std::string m = route.method;
    for (auto& c : m) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(paths.at(route.path).as_object().contains(m)) << route.path;
    auto& op = paths.at(route.path).at(m).as_object();
    EXPECT_FALSE(op.at("summary").as_string().empty());
    EXPECT_TRUE(op.at("responses").as_object().contains("200")) << route.path;
    // Every {param} of the path is a required path parameter.
    std::size_t braces = 0;
    for (char c : route.path) braces += c == '{';
    std::size_t path_params = 0;
    if (op.contains("parameters")) {
      for (auto& p : op.at("parameters").as_array()) {
        if (p.at("in").as_string() == "path") {
          ++path_params;
          EXPECT_TRUE(p.at("required").as_bool());
          EXPECT_NE(route.path.find("{" + std::string(p.at("name").as_string()) + "}"), std::string::npos);
        }
      }
    }
    EXPECT_EQ(path_params, braces) << route.path;
  }
  for (const char* required : {"/health", "/api/v1/gpus", "/api/v1/gpus/{id}", "/api/v1/gpus/{id}/telemetry",
                               "/api/v1/gpus/{id}/latest", "/api/v1/hosts", "/api/v1/hosts/{hostname}/gpus",
                               "/metrics/gpus", "/openapi.json"}) {
    EXPECT_TRUE(paths.contains(required)) << required;
  }
  auto& tele = paths.at("/api/v1/gpus/{id}/telemetry").at("get").as_object();
  std::set<std::string> names;
  for (auto& p : tele.at("parameters").as_array()) names.insert(std::string(p.at("name").as_string()));
  EXPECT_EQ(names, (std::set<std::string>{"id", "start_time", "end_time", "metric", "limit", "cursor"}));
}

TEST(GatewayOpenApi, every_documented_path_answers_as_documented_on_a_running_gateway) {
  rm::core::metrics::Registry registry;
  Gateway gw(sample_index(), no_collector(), &registry);
  http::ServerOptions so;
  so.host = "127.0.0.1";
  so.threads = 2;
  http::Server server(gw.router(), so);
  ASSERT_TRUE(server.start());
  auto served = http::get("127.0.0.1", server.port(), "/openapi.json");
  ASSERT_TRUE(served) << served.error();
  auto doc = json::parse(served->body).as_object();
  EXPECT_EQ(json::value(doc), gw.openapi());

  std::size_t checked = 0;
  for (auto& [path, item] : doc.at("paths").as_object()) {
    for (auto& [method, op_value] : item.as_object()) {
      auto& responses = op_value.at("responses").as_object();
      std::string p(path);
      auto substitute = [&](const std::string& id, const std::string& host) {
        std::string out = p;
        for (auto [name, value] :
             {std::pair{std::string("{id}"), id}, std::pair{std::string("{hostname}"), host}}) {
          auto at = out.find(name);
          if (at != std::string::npos) out.replace(at, name.size(), value);
        }
        return out;
      };
      // 200 with the documented content type for known ids.
      auto ok = http::fetch("127.0.0.1", server.port(), "GET", substitute("GPU-a", "host-1"));
      ASSERT_TRUE(ok) << ok.error();
      EXPECT_EQ(ok->status, 200) << p << ": " << ok->body;
      auto& content = responses.at("200").at("content").as_object();
      std::string ctype(content.begin()->key());
      EXPECT_EQ(ok->header("content-type"), ctype) << p;
      if (ctype == "application/json") {
        auto schema = content.begin()->value().at("schema").as_object();
        if (schema.contains("$ref")) {
          std::string ref(schema.at("$ref").as_string());
          auto name = ref.substr(ref.rfind('/') + 1);
          auto& s = doc.at("components").at("schemas").at(name).as_object();
          auto body = json::parse(ok->body).as_object();
          for (auto& field : s.at("required").as_array()) {
            EXPECT_TRUE(body.contains(field.as_string())) << p << " lacks " << field;
          }
        }
      }
      if (responses.contains("404")) {
        auto nf = http::get("127.0.0.1", server.port(), substitute("nope", "nope"));
        ASSERT_TRUE(nf);
        EXPECT_EQ(nf->status, 404) << p;
        auto body = json::parse(nf->body).as_object();
        for (const char* f : {"error", "message", "code"}) EXPECT_TRUE(body.contains(f)) << p;
      }
      if (responses.contains("400")) {
        auto bad = http::get("127.0.0.1", server.port(), substitute("GPU-a", "host-1") + "?limit=0");
        ASSERT_TRUE(bad);
        EXPECT_EQ(bad->status, 400) << p;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, gw.routes().size());

  // Both Prometheus outputs pass promtool: the GPU samples and the gateway's own metrics.
  auto gpus = http::get("127.0.0.1", server.port(), "/metrics/gpus");
  ASSERT_TRUE(gpus);
  std::string out;
  // dcgm-exporter's own label names (UUID, modelName, Hostname) are kept so existing
  // dashboards work; promtool's style lint flags them (exit 3). Anything else, in particular
  // a parse error (exit 1), fails.
  int status = promtool_check(gpus->body, out);
  EXPECT_TRUE(status == 0 || status == 3) << status << out << gpus->body;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_NE(line.find("label names should be written in 'snake_case' not 'camelCase'"), std::string::npos)
        << line;
  }
  auto own = registry.expose();
  EXPECT_NE(own.find("api_gateway_http_requests_total{method=\"GET\",route=\"/api/v1/gpus/{id}\","
                     "code=\"404\"} 1"),
            std::string::npos)
      << own;
  out.clear();
  EXPECT_EQ(promtool_check(own, out), 0) << out << own;
}
