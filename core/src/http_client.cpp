#include "core/http_client.hpp"

#include <cctype>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace rm::core::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

std::string ClientResponse::header(std::string_view lower_case_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_case_name) return v;
  }
  return {};
}

tl::expected<ClientResponse, std::string> fetch(
    const std::string& host, std::uint16_t port, const std::string& method, const std::string& target,
    std::chrono::milliseconds timeout, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  // Asynchronous operations run on a private io_context so that one deadline covers the
  // resolve, connect, write and read together.
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  tcp::resolver resolver(ioc);
  beast::flat_buffer buffer;
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, host);
  req.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (method == "HEAD") parser.skip(true);  // a HEAD answer has a Content-Length but no body
  beast::error_code result;
  std::string stage = "resolve";

  stream.expires_after(timeout);
  resolver.async_resolve(host, std::to_string(port),
                         [&](beast::error_code ec, tcp::resolver::results_type results) {
                           if (ec) {
                             result = ec;
                             return;
                           }
                           stage = "connect";
                           stream.async_connect(results, [&](beast::error_code ec2, const tcp::endpoint&) {
                             if (ec2) {
                               result = ec2;
                               return;
                             }
                             stage = "write";
                             bhttp::async_write(stream, req, [&](beast::error_code ec3, std::size_t) {
                               if (ec3) {
                                 result = ec3;
                                 return;
                               }
                               stage = "read";
                               bhttp::async_read(stream, buffer, parser,
                                                 [&](beast::error_code ec4, std::size_t) { result = ec4; });
                             });
                           });
                         });
  // The resolver has no deadline of its own; bound the whole exchange here too.
  ioc.run_for(timeout + std::chrono::milliseconds(50));
  if (!ioc.stopped()) {
    return tl::unexpected(fmt::format("{} {}:{}{}: timed out after {} ms during {}", method, host, port,
                                      target, timeout.count(), stage));
  }
  if (result == beast::error::timeout) {
    return tl::unexpected(fmt::format("{} {}:{}{}: timed out after {} ms during {}", method, host, port,
                                      target, timeout.count(), stage));
  }
  if (result) {
    return tl::unexpected(
        fmt::format("{} {}:{}{}: {} failed: {}", method, host, port, target, stage, result.message()));
  }
  auto msg = parser.release();
  ClientResponse out;
  out.status = static_cast<int>(msg.result_int());
  out.body = std::move(msg.body());
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  return out;
}

}  // namespace rm::core::http
