// DockerClient's transport: one HTTP/1.1 exchange per call over the daemon's unix socket, run by
// core's HTTP client (the same code, deadline and cancellation as its TCP client); this file
// only builds the request and turns transport failures into DockerErrors.
#include <fmt/format.h>

#include "core/http_exchange.hpp"
#include "docker/client.hpp"

namespace rm::docker {

namespace http = core::http;

Result<int> DockerClient::request_stream(std::string_view method, std::string_view path,
                                         std::string_view body, std::string_view content_type,
                                         const std::function<bool(std::string_view)>& on_body,
                                         std::chrono::milliseconds timeout, const CancelToken* cancel) const {
  http::OutgoingRequest req;
  req.method = std::string(method);
  req.target = versioned(path);
  req.host = "docker";
  req.headers.emplace_back("User-Agent", "remotemedia");
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.headers.emplace_back("Content-Type", std::string(content_type));
  }
  req.body = body;

  http::ExchangeOptions opts;
  opts.timeout = timeout;
  opts.connect_timeout = options_.connect_timeout;
  opts.cancel = cancel;
  opts.peer = "the Docker daemon";
  auto status = http::exchange(http::UnixEndpoint{endpoint_.socket_path}, req, {nullptr, on_body}, opts);
  if (status) return *status;

  const auto& e = status.error();
  switch (e.code) {
    case http::ExchangeErrc::connect_failed:
      return docker_error(DockerErrorCode::daemon_unreachable,
                          daemon_unreachable_message(endpoint_.socket_path, e.reason));
    case http::ExchangeErrc::connect_timeout:
      return docker_error(DockerErrorCode::daemon_unreachable,
                          daemon_unreachable_message(endpoint_.socket_path, "connect timed out"));
    case http::ExchangeErrc::timeout:
      return docker_error(DockerErrorCode::timeout, fmt::format("{} {} got no complete answer within {} ms",
                                                                method, path, timeout.count()));
    case http::ExchangeErrc::cancelled:
      return docker_error(DockerErrorCode::cancelled, fmt::format("{} {} cancelled", method, path));
    case http::ExchangeErrc::write_failed:
      return docker_error(DockerErrorCode::protocol,
                          fmt::format("{} {}: sending the request failed: {}", method, path, e.reason));
    case http::ExchangeErrc::read_failed:
      return docker_error(DockerErrorCode::protocol,
                          fmt::format("{} {}: reading the response failed: {}", method, path, e.reason));
    case http::ExchangeErrc::malformed:
    case http::ExchangeErrc::truncated:
      break;
  }
  return docker_error(DockerErrorCode::protocol, fmt::format("{} {}: {}", method, path, e.reason));
}

Result<DockerClient::Response> DockerClient::request(std::string_view method, std::string_view path,
                                                     std::string_view body,
                                                     std::string_view content_type) const {
  Response r;
  auto st = request_stream(
      method, path, body, content_type,
      [&](std::string_view piece) {
        r.body.append(piece);
        return true;
      },
      options_.timeout, nullptr);
  if (!st) return tl::unexpected(st.error());
  r.status = *st;
  return r;
}

}  // namespace rm::docker
