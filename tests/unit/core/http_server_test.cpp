// The server over real sockets on 127.0.0.1 (free ports chosen by the kernel).
#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/http.hpp"
#include "core/http_client.hpp"

using namespace rm::core::http;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

Router echo_router() {
  Router r;
  r.add("POST", "/echo", [](const Request& req) {
    return text_response(200, req.body + "|" + req.query.get("q").value_or(""));
  });
  r.get("/hello", [](const Request&) { return text_response(200, "hello"); });
  return r;
}

ServerOptions local(int threads = 2) {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = threads;
  return o;
}

struct Client {
  net::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  explicit Client(std::uint16_t port) {
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    socket.set_option(tcp::no_delay(true));
  }
  void send(std::string_view bytes) { net::write(socket, net::buffer(bytes)); }
  bhttp::response<bhttp::string_body> read() {
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket, buffer, res);
    return res;
  }
  // True once the server has closed the connection (read returns EOF).
  bool closed_by_server() {
    beast::error_code ec;
    char c;
    socket.read_some(net::buffer(&c, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }
};

}  // namespace

TEST(HttpServer, binds_port_zero_and_reports_the_real_port) {
  Server server(echo_router(), local());
  ASSERT_TRUE(server.start());
  EXPECT_NE(server.port(), 0);
  auto r = get("127.0.0.1", server.port(), "/hello");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

TEST(HttpServer, binding_a_taken_port_fails_with_a_message_naming_it) {
  Server first(echo_router(), local());
  ASSERT_TRUE(first.start());
  auto opts = local();
  opts.port = first.port();
  Server second(echo_router(), opts);
  // SO_REUSEADDR does not allow two listeners on one port on Linux.
  auto ok = second.start();
  ASSERT_FALSE(ok);
  EXPECT_NE(ok.error().find(std::to_string(first.port())), std::string::npos) << ok.error();
  auto bad = local();
  bad.host = "not-an-ip";
  EXPECT_FALSE(Server(echo_router(), bad).start());
}

TEST(HttpServer, a_request_split_at_every_byte_offset_is_parsed_the_same) {
  Server server(echo_router(), local());
  ASSERT_TRUE(server.start());
  const std::string request = "POST /echo?q=a%20b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  for (std::size_t split = 0; split <= request.size(); ++split) {
    Client c(server.port());
    c.send(std::string_view(request).substr(0, split));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let the halves arrive apart
    c.send(std::string_view(request).substr(split));
    auto res = c.read();
    EXPECT_EQ(res.result_int(), 200u) << "split at " << split;
    EXPECT_EQ(res.body(), "hello|a b") << "split at " << split;
  }
}

TEST(HttpServer, keep_alive_serves_many_requests_on_one_connection) {
  Server server(echo_router(), local());
  ASSERT_TRUE(server.start());
  Client c(server.port());
  for (int i = 0; i < 20; ++i) {
    std::string body = "n" + std::to_string(i);
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body);
    auto res = c.read();
    EXPECT_EQ(res.body(), body + "|");
    EXPECT_TRUE(res.keep_alive());
  }
  // Pipelined requests are answered in order.
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read().result_int(), 200u);
  EXPECT_EQ(c.read().result_int(), 404u);
  // Connection: close is honoured.
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto last = c.read();
  EXPECT_FALSE(last.keep_alive());
  EXPECT_TRUE(c.closed_by_server());
}

TEST(HttpServer, a_body_over_the_limit_is_413_and_the_connection_closes) {
  auto opts = local();
  opts.body_limit = 16;
  Server server(echo_router(), opts);
  ASSERT_TRUE(server.start());
  Client c(server.port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n12345678901234567");
  auto res = c.read();
  EXPECT_EQ(res.result_int(), 413u);
  EXPECT_NE(res.body().find("\"code\":413"), std::string::npos) << res.body();
  EXPECT_TRUE(c.closed_by_server());
  // A body at the limit is fine.
  Client ok(server.port());
  ok.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n1234567890123456");
  EXPECT_EQ(ok.read().result_int(), 200u);
}

TEST(HttpServer, a_header_over_the_limit_is_431) {
  auto opts = local();
  opts.header_limit = 256;
  Server server(echo_router(), opts);
  ASSERT_TRUE(server.start());
  Client c(server.port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(400, 'a') + "\r\n\r\n");
  auto res = c.read();
  EXPECT_EQ(res.result_int(), 431u);
  EXPECT_TRUE(c.closed_by_server());
}

TEST(HttpServer, garbage_is_answered_with_400) {
  Server server(echo_router(), local());
  ASSERT_TRUE(server.start());
  Client c(server.port());
  c.send("NOT HTTP AT ALL\r\n\r\n");
  auto res = c.read();
  EXPECT_EQ(res.result_int(), 400u);
}

TEST(HttpServer, client_disconnecting_mid_request_does_not_disturb_the_server) {
  Server server(echo_router(), local());
  ASSERT_TRUE(server.start());
  for (int i = 0; i < 10; ++i) {
    Client c(server.port());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part");
    c.socket.close();
  }
  {
    Client c(server.port());
    c.send("GET /hel");
    beast::error_code ec;
    c.socket.shutdown(tcp::socket::shutdown_both, ec);
  }
  auto r = get("127.0.0.1", server.port(), "/hello");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->body, "hello");
}

TEST(HttpServer, an_idle_connection_is_closed_after_the_idle_timeout) {
  auto opts = local();
  opts.request_timeout = std::chrono::milliseconds(200);
  Server server(echo_router(), opts);
  ASSERT_TRUE(server.start());
  Client c(server.port());
  c.send("GET /hel");                 // never finished
  EXPECT_TRUE(c.closed_by_server());  // blocks until the deadline closes it
}

TEST(HttpServer, graceful_stop_finishes_an_in_flight_slow_request) {
  std::promise<void> entered;
  auto entered_future = entered.get_future();
  std::atomic<bool> release{false};
  Router r;
  r.get("/slow", [&](const Request&) {
    entered.set_value();
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return text_response(200, "done");
  });
  Server server(std::move(r), local());
  ASSERT_TRUE(server.start());
  auto port = server.port();
  Client idle(port);  // an idle keep-alive connection must not hold up the stop
  auto response = std::async(std::launch::async, [port] {
    return fetch("127.0.0.1", port, "GET", "/slow", std::chrono::seconds(30));
  });
  entered_future.wait();
  auto stopper = std::async(std::launch::async, [&] { server.stop(); });
  // The stopper is now waiting for the in-flight request; new connections are refused soon.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  release = true;
  stopper.get();
  auto res = response.get();
  ASSERT_TRUE(res) << res.error();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "done");
  EXPECT_EQ(res->header("connection"), "close");
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_FALSE(get("127.0.0.1", port, "/slow", std::chrono::milliseconds(500)));
}

TEST(HttpClient, connection_refused_is_an_error_naming_host_and_port) {
  std::uint16_t port;
  {
    Server s(echo_router(), local());
    ASSERT_TRUE(s.start());
    port = s.port();
  }
  auto r = get("127.0.0.1", port, "/hello", std::chrono::milliseconds(500));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << r.error();
}
