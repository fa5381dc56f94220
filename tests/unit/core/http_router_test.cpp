// The router and request helpers are pure functions: tested without a socket.
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "core/http.hpp"

using namespace rm::core::http;

namespace {

Router sample_router() {
  Router r;
  r.get("/health", [](const Request&) { return text_response(200, "ok"); });
  r.get("/api/v1/gpus/{id}",
        [](const Request& req) { return text_response(200, "gpu:" + std::string(req.param("id"))); });
  r.get("/api/v1/gpus/{id}/telemetry", [](const Request& req) {
    return text_response(
        200, "telemetry:" + std::string(req.param("id")) + ":" + req.query.get("limit").value_or("-"));
  });
  r.add("POST", "/api/v1/gpus/{id}",
        [](const Request& req) { return text_response(201, "posted:" + req.body); });
  r.get("/throws", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  return r;
}

boost::json::object json_of(const Response& r) {
  return boost::json::parse(r.body).as_object();
}

}  // namespace

TEST(HttpRouter, literal_route_matches_exactly) {
  auto r = sample_router();
  auto resp = r.handle(make_request("GET", "/health"));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "ok");
  EXPECT_EQ(r.handle(make_request("GET", "/health/")).status, 200);  // trailing slash ignored
  EXPECT_EQ(r.handle(make_request("GET", "/healthz")).status, 404);
}

TEST(HttpRouter, path_parameters_are_extracted_and_percent_decoded) {
  auto r = sample_router();
  EXPECT_EQ(r.handle(make_request("GET", "/api/v1/gpus/GPU-abc")).body, "gpu:GPU-abc");
  EXPECT_EQ(r.handle(make_request("GET", "/api/v1/gpus/gpu%2F001")).body, "gpu:gpu/001");
  EXPECT_EQ(r.handle(make_request("GET", "/api/v1/gpus/a%20b/telemetry?limit=5")).body, "telemetry:a b:5");
}

TEST(HttpRouter, unknown_path_is_404_with_json_error_body) {
  auto r = sample_router();
  auto resp = r.handle(make_request("GET", "/api/v1/nothing"));
  EXPECT_EQ(resp.status, 404);
  auto o = json_of(resp);
  EXPECT_EQ(o.at("code").as_int64(), 404);
  EXPECT_EQ(o.at("error").as_string(), "Not Found");
  EXPECT_NE(std::string(o.at("message").as_string()).find("/api/v1/nothing"), std::string::npos);
}

TEST(HttpRouter, wrong_method_is_405_and_lists_the_allowed_methods) {
  auto r = sample_router();
  auto resp = r.handle(make_request("DELETE", "/api/v1/gpus/x"));
  EXPECT_EQ(resp.status, 405);
  ASSERT_EQ(resp.headers.size(), 1u);
  EXPECT_EQ(resp.headers[0].first, "Allow");
  EXPECT_EQ(resp.headers[0].second, "GET, POST");
  EXPECT_EQ(r.handle(make_request("POST", "/api/v1/gpus/x", "hi")).body, "posted:hi");
}

TEST(HttpRouter, head_is_answered_by_the_get_route_without_a_body) {
  auto r = sample_router();
  auto resp = r.handle(make_request("HEAD", "/health"));
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(resp.body.empty());
  const auto get = r.handle(make_request("GET", "/health"));
  ASSERT_FALSE(resp.headers.empty());
  EXPECT_EQ(resp.headers.back().first, "Content-Length");
  EXPECT_EQ(resp.headers.back().second, std::to_string(get.body.size())) << "HEAD gives the GET's length";
}

TEST(HttpRouter, malformed_percent_escape_in_path_or_query_is_400) {
  auto r = sample_router();
  EXPECT_EQ(r.handle(make_request("GET", "/api/v1/gpus/%zz")).status, 400);
  auto resp = r.handle(make_request("GET", "/health?x=%4"));
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("offset"), std::string::npos);
}

TEST(HttpRouter, a_throwing_handler_becomes_a_500_naming_the_route) {
  auto r = sample_router();
  auto resp = r.handle(make_request("GET", "/throws"));
  EXPECT_EQ(resp.status, 500);
  EXPECT_NE(resp.body.find("/throws"), std::string::npos);
  EXPECT_NE(resp.body.find("boom"), std::string::npos);
}

TEST(HttpQuery, parameters_are_decoded_and_repeatable) {
  auto q =
      QueryParams::parse("metric=a&metric=b%2Cc&start_time=2025-07-18T20%3A42%3A34%2B02%3A00&x=a+b&flag&&");
  ASSERT_TRUE(q) << q.error();
  EXPECT_EQ(q->all("metric"), (std::vector<std::string>{"a", "b,c"}));
  EXPECT_EQ(q->get("start_time"), "2025-07-18T20:42:34+02:00");
  EXPECT_EQ(q->get("x"), "a b");
  EXPECT_TRUE(q->has("flag"));
  EXPECT_EQ(q->get("flag"), "");
  EXPECT_FALSE(q->get("missing"));
  EXPECT_EQ(q->items().size(), 5u);
}

TEST(HttpQuery, bad_escapes_are_rejected_with_the_offset) {
  for (const char* bad : {"a=%", "a=%2", "a=%g0", "%zz=1", "a=1&b=%0"}) {
    auto q = QueryParams::parse(bad);
    ASSERT_FALSE(q) << bad;
    EXPECT_NE(q.error().find("offset"), std::string::npos) << q.error();
  }
}

TEST(HttpQuery, percent_encode_round_trips_every_byte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  auto decoded = percent_decode(percent_encode(all));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, all);
}

TEST(HttpResponse, error_body_has_error_message_and_code) {
  auto resp = error_response(400, "start_time is after end_time", "bad_time_range");
  auto o = json_of(resp);
  EXPECT_EQ(o.at("error").as_string(), "bad_time_range");
  EXPECT_EQ(o.at("message").as_string(), "start_time is after end_time");
  EXPECT_EQ(o.at("code").as_int64(), 400);
  EXPECT_EQ(resp.content_type, "application/json");
}
