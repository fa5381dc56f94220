#pragma once
// HTTP/1.1 server and router shared by every service (collector health, gateway API, /metrics).
//
// Usage:
//   rm::core::http::Router router;
//   router.get("/api/v1/gpus/{id}", [](const Request& req) {
//     return json_response(200, {{"id", req.param("id")}});
//   });
//   rm::core::http::Server server(std::move(router), {.host = "127.0.0.1", .port = 0});
//   if (auto ok = server.start(); !ok) { /* ok.error() names host:port and the reason */ }
//   server.port();   // the bound port (useful with port 0)
//   server.stop();   // graceful: stops accepting, finishes in-flight requests
//
// Guarantees:
// - The request handler is a pure function `Router::handle(const Request&) -> Response`, so
//   routes are testable without a socket (build a Request with `make_request`).
// - Handlers run on one of `threads` io threads and may be called concurrently; a handler
//   must be thread-safe and should not block for long (it occupies an io thread).
// - Each message gets a fresh parser with header and body limits; a too-large header is
//   answered with 431, a too-large body with 413, and the connection is closed.
// - A deadline is set before every read: `request_timeout` for a request in progress,
//   `idle_timeout` between keep-alive requests. Expired connections are closed silently.
// - stop() closes the listener, closes idle connections, lets every request already being
//   received or handled finish (its response carries `Connection: close`), waits up to
//   `drain_timeout`, then stops the io threads. The destructor calls stop().
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>
#include <tl/expected.hpp>

namespace rm::core::http {

// Percent-decoding of one URL component. With `plus_is_space` (query strings) '+' decodes to
// ' '. Errors name the offending offset ("bad percent escape at offset 3").
tl::expected<std::string, std::string> percent_decode(std::string_view text, bool plus_is_space = false);
std::string percent_encode(std::string_view text);

// Decoded query parameters in their original order; a name may repeat (`?metric=a&metric=b`).
class QueryParams {
 public:
  // Parses "a=1&b=x%20y&flag"; a key without '=' has an empty value. Empty pieces are skipped.
  static tl::expected<QueryParams, std::string> parse(std::string_view query);

  std::optional<std::string> get(std::string_view name) const;  // first value
  std::vector<std::string> all(std::string_view name) const;    // every value, in order
  bool has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target: "/path?query"
  std::string path;    // raw (still percent-encoded) path part of the target
  QueryParams query;
  std::optional<std::string> query_error;                    // set when the query string is malformed
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // Path parameters, filled by the router for the matched route ({id} -> value), decoded.
  std::vector<std::pair<std::string, std::string>> params;

  std::string_view param(std::string_view name) const;  // empty when absent
  std::optional<std::string> header(std::string_view lower_case_name) const;
};

// Builds a request from a method and a target, splitting and parsing the query string.
Request make_request(std::string method, std::string_view target, std::string body = {});

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

Response json_response(int status, const boost::json::value& body);
Response text_response(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
// The project's error body: {"error": <short reason>, "message": <what and what to do>,
// "code": <status>}. `error` defaults to the status' reason phrase ("Not Found").
Response error_response(int status, std::string_view message, std::string_view error = {});
std::string_view reason_phrase(int status);

using Handler = std::function<Response(const Request&)>;

// Routes "METHOD /literal/{param}/literal". Matching is segment-wise on the decoded path;
// a parameter matches exactly one non-empty segment; a last segment "{name...}" matches the
// rest of the path (one or more segments, joined with '/'). Earlier routes win on ties.
// handle(): 404 when no pattern matches the path, 405 (with an Allow header) when the path
// matches but not the method, 400 for an undecodable path or query string. A handler that
// throws yields a 500 error body naming the route (the server never dies from a handler).
class Router {
 public:
  struct Route {
    std::string method;
    std::string pattern;
    Handler handler;
  };

  Router& add(std::string method, std::string pattern, Handler handler);
  Router& get(std::string pattern, Handler handler) {
    return add("GET", std::move(pattern), std::move(handler));
  }

  Response handle(const Request& request) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{name}" marks a parameter
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

struct ServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 0;  // 0 = any free port; read it back with Server::port()
  int threads = 1;
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 1024 * 1024;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds drain_timeout{10'000};
  std::string server_name = "rm";
};

class Server {
 public:
  Server(Router router, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the io threads. Error message names host:port and the cause.
  tl::expected<void, std::string> start();
  std::uint16_t port() const;
  void stop();

  const Router& router() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rm::core::http
