#include "core/http_client.hpp"

#include <fmt/format.h>

#include "core/http_exchange.hpp"

namespace rm::core::http {

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
  ClientResponse out;
  ResponseHandler handler{
      [&](int, const std::vector<std::pair<std::string, std::string>>& fields) { out.headers = fields; },
      [&](std::string_view piece) {
        out.body.append(piece);
        return true;
      }};
  ExchangeOptions options;
  options.timeout = timeout;
  options.body_limit = 64 * 1024 * 1024;
  options.peer = fmt::format("{}:{}", host, port);
  auto status = exchange(TcpEndpoint{host, port}, OutgoingRequest{method, target, host, headers, body},
                         handler, options);
  if (!status) {
    const auto& e = status.error();
    const std::string what = fmt::format("{} {}:{}{}", method, host, port, target);
    switch (e.code) {
      case ExchangeErrc::timeout:
      case ExchangeErrc::connect_timeout:
        return tl::unexpected(fmt::format("{}: {} during {}", what, e.reason, e.stage));
      case ExchangeErrc::malformed:
      case ExchangeErrc::truncated:
        return tl::unexpected(fmt::format("{}: {}", what, e.reason));
      default:
        return tl::unexpected(fmt::format("{}: {} failed: {}", what, e.stage, e.reason));
    }
  }
  out.status = *status;
  return out;
}

}  // namespace rm::core::http
