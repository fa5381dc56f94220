// The Prometheus HTTP API routes as the gateway serves them (the real router, no socket):
// response envelopes, GET and form POST, and Prometheus' error JSON.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/http.hpp"
#include "promql/http_api.hpp"
#include "support/dcgm_index.hpp"
#include "telemetry/gateway/gateway.hpp"

using namespace promql_test;
namespace json = boost::json;
namespace http = rm::core::http;

namespace {

struct Api {
  Api() : gw(dcgm_index(5), promql_gateway_options()), router(gw.router()) {}
  http::Response get(const std::string& target) { return router.handle(http::make_request("GET", target)); }
  http::Response post(const std::string& path, const std::string& body) {
    auto req = http::make_request("POST", path, body);
    req.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
    return router.handle(req);
  }
  rm::telemetry::Gateway gw;
  http::Router router;
};

const std::string kT = "1752871384";  // kBase + 30 s

}  // namespace

TEST(PromqlHttpApi, instant_query_answers_a_vector_in_prometheus_json) {
  Api api;
  auto r = api.get("/api/v1/query?query=DCGM_FI_DEV_GPU_UTIL%7Bgpu%3D%220%22%7D&time=" + kT);
  ASSERT_EQ(r.status, 200) << r.body;
  auto o = json::parse(r.body).as_object();
  EXPECT_EQ(o.at("status").as_string(), "success");
  auto& data = o.at("data").as_object();
  EXPECT_EQ(data.at("resultType").as_string(), "vector");
  auto& result = data.at("result").as_array();
  EXPECT_EQ(result.size(), 31u);  // gpu 0 of every host
  auto& first = result[0].as_object();
  EXPECT_EQ(first.at("metric").at("__name__").as_string(), "DCGM_FI_DEV_GPU_UTIL");
  EXPECT_EQ(first.at("value").as_array()[0].to_number<double>(), 1752871384.0);
  EXPECT_TRUE(first.at("value").as_array()[1].is_string());
}

TEST(PromqlHttpApi, range_query_by_get_and_by_form_post_agree) {
  Api api;
  const std::string q =
      "query=avg%20by%20(Hostname)%20(DCGM_FI_DEV_GPU_TEMP)&start=1752871354&"
      "end=1752871414&step=15s";
  auto g = api.get("/api/v1/query_range?" + q);
  auto p = api.post("/api/v1/query_range", q);
  ASSERT_EQ(g.status, 200) << g.body;
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(g.body, p.body);
  auto data = json::parse(g.body).at("data").as_object();
  EXPECT_EQ(data.at("resultType").as_string(), "matrix");
  auto& result = data.at("result").as_array();
  EXPECT_EQ(result.size(), 31u);
  for (auto& s : result) EXPECT_EQ(s.at("values").as_array().size(), 5u);  // +0 ... +60 s
}

TEST(PromqlHttpApi, scalar_results_and_values_are_rendered_as_prometheus_does) {
  Api api;
  auto r = api.get("/api/v1/query?query=1%2F4&time=1752871354.5");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1752871354.5,"
            "\"0.25\"]}}");
  r = api.get("/api/v1/query?query=1%2F0&time=1");
  EXPECT_NE(r.body.find("\"+Inf\""), std::string::npos);
}

TEST(PromqlHttpApi, series_labels_and_label_values_list_the_dcgm_export) {
  Api api;
  auto r = api.get("/api/v1/series?match[]=DCGM_FI_DEV_FB_USED%7BHostname%3D%22mtv5-dgx1-hgpu-031%22%7D");
  ASSERT_EQ(r.status, 200) << r.body;
  auto series = json::parse(r.body).at("data").as_array();
  EXPECT_EQ(series.size(), 8u);
  r = api.get("/api/v1/label/Hostname/values");
  EXPECT_EQ(json::parse(r.body).at("data").as_array().size(), 31u);
  r = api.get("/api/v1/label/__name__/values");
  EXPECT_EQ(json::parse(r.body).at("data").as_array().size(), 10u);
  r = api.get("/api/v1/labels");
  auto names = json::parse(r.body).at("data").as_array();
  for (const char* l : {"Hostname", "UUID", "__name__", "device", "gpu", "modelName"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), json::value(l)), names.end()) << l;
  }
}

TEST(PromqlHttpApi, bad_input_gets_prometheus_error_json_naming_the_problem) {
  Api api;
  struct Case {
    std::string target;
    int status;
    std::string type;
    std::string contains;
  };
  for (const auto& c : std::vector<Case>{
           {"/api/v1/query?query=sum(x", 400, "bad_data", "parse error"},
           {"/api/v1/query?query=histogram_quantile(0.9,x)", 400, "bad_data",
            "function \\\"histogram_quantile\\\" is not supported"},
           {"/api/v1/query?query=x&time=yesterday", 400, "bad_data", "invalid parameter \\\"time\\\""},
           {"/api/v1/query", 400, "bad_data", "invalid parameter \\\"query\\\""},
           {"/api/v1/query_range?query=x&start=10&end=5&step=1", 400, "bad_data",
            "end timestamp must not be before start time"},
           {"/api/v1/query_range?query=x&start=0&end=5&step=0", 400, "bad_data",
            "zero or negative query resolution step"},
           {"/api/v1/query_range?query=x&start=0&end=100000&step=1", 400, "bad_data",
            "exceeded maximum resolution of 11,000 points"},
           {"/api/v1/series", 400, "bad_data", "no match[] parameter provided"},
           {"/api/v1/"
            "query?query=rate(%7B__name__%3D~%22DCGM_FI_DEV_GPU_UTIL%7CDCGM_FI_DEV_GPU_TEMP%22%7D%5B1m%5D)&"
            "time=" +
                kT,
            422, "execution", "same labelset"}}) {
    auto r = api.get(c.target);
    EXPECT_EQ(r.status, c.status) << c.target << " " << r.body;
    auto o = json::parse(r.body).as_object();
    EXPECT_EQ(o.at("status").as_string(), "error");
    EXPECT_EQ(o.at("errorType").as_string(), c.type);
    EXPECT_NE(r.body.find(c.contains), std::string::npos) << r.body;
  }
}

TEST(PromqlHttpApi, the_routes_are_in_the_gateways_openapi_document) {
  Api api;
  auto doc = api.gw.openapi();
  auto& paths = doc.at("paths").as_object();
  for (const char* p : {"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
                        "/api/v1/label/{name}/values"}) {
    ASSERT_TRUE(paths.contains(p)) << p;
    EXPECT_TRUE(paths.at(p).as_object().contains("get"));
    EXPECT_TRUE(paths.at(p).at("post").as_object().contains("requestBody"));
  }
}

TEST(PromqlHttpApi, unknown_parameters_are_ignored_as_prometheus_does) {
  Api api;
  const std::string q = "query=DCGM_FI_DEV_GPU_UTIL%7Bgpu%3D%220%22%7D&time=" + kT;
  auto plain = api.get("/api/v1/query?" + q);
  auto extra = api.get("/api/v1/query?" + q + "&stats=all&dedup=true");
  ASSERT_EQ(plain.status, 200) << plain.body;
  ASSERT_EQ(extra.status, 200) << extra.body;
  EXPECT_EQ(plain.body, extra.body);
  auto range = api.get(
      "/api/v1/query_range?query=DCGM_FI_DEV_GPU_TEMP&start=1752871354&end=1752871414"
      "&step=15s&lookback_delta=5m");
  EXPECT_EQ(range.status, 200) << range.body;
  EXPECT_EQ(api.get("/api/v1/labels?limit=3").status, 200);
  EXPECT_EQ(api.get("/api/v1/label/Hostname/values?foo=1").status, 200);
  // The gateway's own routes still name an unknown parameter.
  auto gpus = api.get("/api/v1/gpus?stats=all");
  EXPECT_EQ(gpus.status, 400) << gpus.body;
  EXPECT_NE(gpus.body.find("unknown query parameter 'stats'"), std::string::npos) << gpus.body;
}
