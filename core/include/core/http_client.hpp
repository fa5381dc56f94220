#pragma once
// A small blocking HTTP/1.1 client for health checks between services and for tests.
// Each call opens one connection, sends one request and reads one response, all within
// `timeout`; it never throws. Errors name host:port and the cause ("connection refused",
// "timed out after 300 ms").
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace rm::core::http {

struct ClientResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;    // names lower-cased
  std::string header(std::string_view lower_case_name) const;  // empty when absent
};

tl::expected<ClientResponse, std::string> fetch(
    const std::string& host, std::uint16_t port, const std::string& method, const std::string& target,
    std::chrono::milliseconds timeout = std::chrono::seconds(5), const std::string& body = {},
    const std::vector<std::pair<std::string, std::string>>& headers = {});

inline tl::expected<ClientResponse, std::string> get(
    const std::string& host, std::uint16_t port, const std::string& target,
    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return fetch(host, port, "GET", target, timeout);
}

}  // namespace rm::core::http
