// The HTTP/1.1 client shared by core::http::fetch (TCP) and the Docker transport (unix socket),
// run against real servers on 127.0.0.1 and on a real unix socket.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/http_client.hpp"
#include "core/http_exchange.hpp"
#include "support/free_port.hpp"
#include "support/scripted_server.hpp"
#include "support/temp_dir.hpp"

namespace http = rm::core::http;
using namespace std::chrono_literals;
using rm::test::ScriptedServer;
using rm::test::Transport;
using Then = ScriptedServer::Then;

namespace {

struct Outcome {
  tl::expected<int, http::ExchangeError> status;
  std::string body;
  std::vector<std::string> pieces;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::steady_clock::duration took{};
};

Outcome run(const http::Endpoint& ep, http::ExchangeOptions opts, const http::OutgoingRequest& req = {},
            const std::function<bool(std::string_view)>& extra = {}) {
  Outcome o{tl::unexpected(http::ExchangeError{}), {}, {}, {}, {}};
  const auto start = std::chrono::steady_clock::now();
  o.status = http::exchange(ep, req,
                            {[&](int, const auto& h) { o.headers = h; },
                             [&](std::string_view piece) {
                               o.body.append(piece);
                               o.pieces.emplace_back(piece);
                               return !extra || extra(piece);
                             }},
                            opts);
  o.took = std::chrono::steady_clock::now() - start;
  return o;
}

http::ExchangeOptions with_timeout(std::chrono::milliseconds t) {
  http::ExchangeOptions o;
  o.timeout = t;
  return o;
}

const std::string kChunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

class HttpExchange : public ::testing::TestWithParam<Transport> {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(BothStreams, HttpExchange, ::testing::Values(Transport::tcp, Transport::unix_socket),
                         [](const auto& p) { return p.param == Transport::tcp ? "tcp" : "unix_socket"; });

TEST_P(HttpExchange, a_complete_response_gives_its_status_headers_and_body_and_the_request_is_sent_whole) {
  ScriptedServer server(GetParam(),
                        {{"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Id: a\r\nX-Id: b\r\n\r\nhello"}});
  http::OutgoingRequest req{"POST", "/things?x=1", "example", {{"Content-Type", "text/plain"}}, "payload"};
  auto o = run(server.endpoint(), with_timeout(5s), req);
  ASSERT_TRUE(o.status) << o.status.error().reason;
  EXPECT_EQ(*o.status, 201);
  EXPECT_EQ(o.body, "hello");
  const std::vector<std::pair<std::string, std::string>> want{
      {"content-length", "5"}, {"x-id", "a"}, {"x-id", "b"}};
  EXPECT_EQ(o.headers, want);
  const auto sent = server.wait_for_request();
  EXPECT_TRUE(sent.starts_with("POST /things?x=1 HTTP/1.1\r\nHost: example\r\n")) << sent;
  EXPECT_NE(sent.find("Content-Type: text/plain\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("Content-Length: 7\r\n"), std::string::npos) << sent;
  EXPECT_TRUE(sent.ends_with("\r\n\r\npayload")) << sent;
}

TEST_P(HttpExchange, a_chunked_body_split_across_writes_is_decoded_exactly) {
  ScriptedServer server(GetParam(), {{kChunkedHead + "5\r\nab"}, {"cde\r\n3"}, {"\r\nfgh\r\n0\r\n\r\n"}});
  auto o = run(server.endpoint(), with_timeout(5s));
  ASSERT_TRUE(o.status) << o.status.error().reason;
  EXPECT_EQ(*o.status, 200);
  EXPECT_EQ(o.body, "abcdefgh");
}

TEST_P(HttpExchange, a_streaming_response_is_delivered_piece_by_piece_before_it_ends) {
  // The server sends the second piece only once the test has seen the first, which it can
  // only do if the client hands out the body as it arrives.
  ScriptedServer server(
      GetParam(),
      {{kChunkedHead + "7\r\npiece-1\r\n"}, {"7\r\npiece-2\r\n", true}, {"7\r\npiece-3\r\n0\r\n\r\n", true}});
  int seen = 0;
  auto o = run(server.endpoint(), with_timeout(10s), {}, [&](std::string_view piece) {
    ++seen;
    EXPECT_EQ(piece, "piece-" + std::to_string(seen));
    server.release();
    return true;
  });
  ASSERT_TRUE(o.status) << o.status.error().reason;
  EXPECT_EQ(o.pieces, (std::vector<std::string>{"piece-1", "piece-2", "piece-3"}));
}

TEST_P(HttpExchange, a_silent_server_ends_the_call_with_one_timeout_at_the_deadline) {
  ScriptedServer server(GetParam(), {}, Then::stay_silent);
  auto o = run(server.endpoint(), with_timeout(300ms));
  ASSERT_FALSE(o.status);
  EXPECT_EQ(o.status.error().code, http::ExchangeErrc::timeout);
  EXPECT_EQ(o.status.error().stage, "read");
  EXPECT_EQ(o.status.error().reason, "timed out after 300 ms");
  EXPECT_GE(o.took, 300ms);
  EXPECT_TRUE(o.body.empty());
}

TEST_P(HttpExchange, a_trickling_stream_does_not_extend_the_deadline_and_keeps_what_arrived) {
  // 40 pieces 50 ms apart would take 2 s; the deadline of 400 ms covers the whole exchange.
  std::vector<ScriptedServer::Step> steps{{kChunkedHead}};
  for (int i = 0; i < 40; ++i) steps.push_back({"1\r\nx\r\n", false, 50ms});
  ScriptedServer server(GetParam(), steps, Then::stay_silent);
  auto o = run(server.endpoint(), with_timeout(400ms));
  ASSERT_FALSE(o.status);
  EXPECT_EQ(o.status.error().code, http::ExchangeErrc::timeout);
  EXPECT_GE(o.took, 400ms);
  EXPECT_LT(o.body.size(), 40u);
  EXPECT_EQ(o.body, std::string(o.body.size(), 'x'));  // every byte that arrived was delivered
}

TEST_P(HttpExchange, the_connect_deadline_no_longer_applies_once_connected) {
  // connect_timeout 250 ms, answer after 1 s, overall deadline 10 s: the call succeeds.
  ScriptedServer server(GetParam(), {{"HTTP/1.1 204 No Content\r\n\r\n", false, 1000ms}});
  auto opts = with_timeout(10s);
  opts.connect_timeout = 250ms;
  auto o = run(server.endpoint(), opts);
  ASSERT_TRUE(o.status) << o.status.error().reason;
  EXPECT_EQ(*o.status, 204);
}

TEST_P(HttpExchange, a_response_cut_short_is_truncated_and_keeps_the_bytes_delivered) {
  ScriptedServer server(GetParam(), {{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"}});
  auto opts = with_timeout(5s);
  opts.peer = "the test server";
  auto o = run(server.endpoint(), opts);
  ASSERT_FALSE(o.status);
  EXPECT_EQ(o.status.error().code, http::ExchangeErrc::truncated);
  EXPECT_EQ(o.status.error().reason, "the test server closed the connection before the end of the response");
  EXPECT_EQ(o.body, "0123456789");
}

TEST_P(HttpExchange, a_peer_that_is_not_http_is_a_malformed_response_naming_the_peer) {
  ScriptedServer server(GetParam(), {{"SSH-2.0-OpenSSH_9.2\r\n\r\n"}}, Then::stay_silent);
  auto opts = with_timeout(5s);
  opts.peer = "the test server";
  auto o = run(server.endpoint(), opts);
  ASSERT_FALSE(o.status);
  EXPECT_EQ(o.status.error().code, http::ExchangeErrc::malformed);
  EXPECT_TRUE(o.status.error().reason.starts_with("malformed HTTP response from the test server: "))
      << o.status.error().reason;
}

TEST_P(HttpExchange, a_body_over_the_limit_is_refused_with_the_limit_named) {
  ScriptedServer server(GetParam(), {{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"}}, Then::stay_silent);
  auto opts = with_timeout(5s);
  opts.body_limit = 10;
  auto o = run(server.endpoint(), opts);
  ASSERT_FALSE(o.status);
  EXPECT_EQ(o.status.error().code, http::ExchangeErrc::malformed);
  EXPECT_NE(o.status.error().reason.find("exceeds the limit of 10 bytes"), std::string::npos)
      << o.status.error().reason;
}

TEST_P(HttpExchange, a_head_answer_completes_without_waiting_for_the_announced_body) {
  ScriptedServer server(GetParam(), {{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"}}, Then::stay_silent);
  http::OutgoingRequest req;
  req.method = "HEAD";
  auto o = run(server.endpoint(), with_timeout(10s), req);
  ASSERT_TRUE(o.status) << o.status.error().reason;
  EXPECT_EQ(*o.status, 200);
  EXPECT_TRUE(o.body.empty());
}

TEST_P(HttpExchange, a_body_handler_returning_false_ends_the_call_without_error) {
  ScriptedServer server(GetParam(), {{kChunkedHead + "3\r\nabc\r\n"}}, Then::stay_silent);
  auto o = run(server.endpoint(), with_timeout(10s), {}, [](std::string_view) { return false; });
  ASSERT_TRUE(o.status) << o.status.error().reason;
  EXPECT_EQ(o.body, "abc");
}

TEST_P(HttpExchange, a_cancel_from_another_thread_ends_a_waiting_call) {
  ScriptedServer server(GetParam(), {}, Then::stay_silent);
  rm::core::CancelToken cancel;
  std::thread canceller([&] {
    server.wait_for_request();
    cancel.cancel();
  });
  auto opts = with_timeout(60s);
  opts.cancel = &cancel;
  auto o = run(server.endpoint(), opts);
  canceller.join();
  ASSERT_FALSE(o.status);
  EXPECT_EQ(o.status.error().code, http::ExchangeErrc::cancelled);
  // The server has the whole request; the client may not yet have seen its write complete.
  EXPECT_TRUE(o.status.error().stage == "read" || o.status.error().stage == "write")
      << o.status.error().stage;
}

TEST_P(HttpExchange, an_already_cancelled_token_ends_the_call_before_it_connects) {
  ScriptedServer server(GetParam(), {{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}});
  rm::core::CancelToken cancel;
  cancel.cancel();
  auto opts = with_timeout(5s);
  opts.cancel = &cancel;
  auto o = run(server.endpoint(), opts);
  ASSERT_FALSE(o.status);
  EXPECT_EQ(o.status.error().code, http::ExchangeErrc::cancelled);
  EXPECT_EQ(o.status.error().stage, "connect");
}

TEST(HttpExchange, a_tcp_port_nobody_listens_on_is_a_refused_connection) {
  auto o = run(http::TcpEndpoint{"127.0.0.1", rm::test::free_port()}, with_timeout(5s));
  ASSERT_FALSE(o.status);
  EXPECT_EQ(o.status.error().code, http::ExchangeErrc::connect_failed);
  EXPECT_EQ(o.status.error().stage, "connect");
  EXPECT_NE(o.status.error().reason.find("refused"), std::string::npos) << o.status.error().reason;
}

TEST(HttpExchange, a_unix_socket_nobody_listens_on_is_a_refused_connection) {
  rm::test::TempDir dir("rm-http-refused");
  const std::string path = (dir.path() / "dead.sock").string();
  // Bound, then closed: the file stays but nothing listens.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  auto o = run(http::UnixEndpoint{path}, with_timeout(5s));
  ASSERT_FALSE(o.status);
  EXPECT_EQ(o.status.error().code, http::ExchangeErrc::connect_failed);
  EXPECT_NE(o.status.error().reason.find("refused"), std::string::npos) << o.status.error().reason;
  auto missing = run(http::UnixEndpoint{(dir.path() / "missing.sock").string()}, with_timeout(5s));
  ASSERT_FALSE(missing.status);
  EXPECT_EQ(missing.status.error().code, http::ExchangeErrc::connect_failed);
  EXPECT_NE(missing.status.error().reason.find("No such file"), std::string::npos)
      << missing.status.error().reason;
}

TEST(HttpFetch, errors_name_the_request_the_stage_and_the_cause) {
  const auto port = rm::test::free_port();
  auto refused = http::get("127.0.0.1", port, "/health", 5s);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(
      refused.error().starts_with("GET 127.0.0.1:" + std::to_string(port) + "/health: connect failed: "))
      << refused.error();

  ScriptedServer silent(Transport::tcp, {}, Then::stay_silent);
  const auto ep = std::get<http::TcpEndpoint>(silent.endpoint());
  auto slow = http::get(ep.host, ep.port, "/stats", 200ms);
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error(),
            "GET 127.0.0.1:" + std::to_string(ep.port) + "/stats: timed out after 200 ms during read");
}

TEST(HttpFetch, a_response_gives_status_body_and_lower_cased_headers) {
  ScriptedServer server(Transport::tcp,
                        {{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"}});
  const auto ep = std::get<http::TcpEndpoint>(server.endpoint());
  auto r = http::fetch(ep.host, ep.port, "PUT", "/x", 5s, "data", {{"X-Token", "t"}});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(r->header("content-type"), "text/plain");
  const auto sent = server.wait_for_request();
  EXPECT_TRUE(sent.starts_with("PUT /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Token: t\r\nContent-Length: 4\r\n"))
      << sent;
}

TEST(CancelToken, a_callback_runs_once_and_never_after_its_registration_is_gone) {
  rm::core::CancelToken token;
  int first = 0, second = 0;
  auto keep = token.on_cancel([&] { ++first; });
  {
    auto dropped = token.on_cancel([&] { ++second; });
  }
  rm::core::CancelToken copy = token;
  copy.cancel();
  token.cancel();
  EXPECT_TRUE(token.cancelled());
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 0);
  int late = 0;
  auto after = token.on_cancel([&] { ++late; });
  EXPECT_EQ(late, 1);  // already cancelled: runs at once
}
