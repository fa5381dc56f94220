// Router and request/response helpers: everything of the HTTP layer that needs no socket.
#include "core/http.hpp"
#include "core/json.hpp"

#include <algorithm>
#include <exception>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"

namespace rm::core::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// "{name...}": the rest of the path (one or more segments, joined with '/'). Only last.
bool is_rest_param(std::string_view segment) {
  return is_param(segment) && segment.size() > 5 && segment.substr(segment.size() - 4) == "...}";
}

}  // namespace

tl::expected<std::string, std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return tl::unexpected(fmt::format("bad percent escape at offset {}: needs two hex digits", i));
      }
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) {
        return tl::unexpected(fmt::format("bad percent escape at offset {}: needs two hex digits", i));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

tl::expected<QueryParams, std::string> QueryParams::parse(std::string_view query) {
  QueryParams params;
  std::size_t i = 0;
  while (i <= query.size()) {
    auto j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    std::string_view piece = query.substr(i, j - i);
    if (!piece.empty()) {
      auto eq = piece.find('=');
      std::string_view raw_key = piece.substr(0, eq);
      std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
      auto key = percent_decode(raw_key, true);
      if (!key) return tl::unexpected(fmt::format("query parameter '{}': {}", raw_key, key.error()));
      auto value = percent_decode(raw_value, true);
      if (!value) {
        return tl::unexpected(fmt::format("query parameter '{}': {}", *key, value.error()));
      }
      params.items_.emplace_back(std::move(*key), std::move(*value));
    }
    i = j + 1;
  }
  return params;
}

std::optional<std::string> QueryParams::get(std::string_view name) const {
  for (const auto& [k, v] : items_) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::vector<std::string> QueryParams::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_) {
    if (k == name) out.push_back(v);
  }
  return out;
}

bool QueryParams::has(std::string_view name) const {
  return get(name).has_value();
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::optional<std::string> Request::header(std::string_view lower_case_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_case_name) return v;
  }
  return std::nullopt;
}

Request make_request(std::string method, std::string_view target, std::string body) {
  Request req;
  req.method = std::move(method);
  req.target = std::string(target);
  auto q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    auto parsed = QueryParams::parse(target.substr(q + 1));
    if (parsed) {
      req.query = std::move(*parsed);
    } else {
      req.query_error = parsed.error();
    }
  }
  req.body = std::move(body);
  return req;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

Response json_response(int status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = to_json(body);
  return r;
}

Response text_response(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response error_response(int status, std::string_view message, std::string_view error) {
  boost::json::object o;
  o["error"] = error.empty() ? reason_phrase(status) : error;
  o["message"] = message;
  o["code"] = status;
  return json_response(status, o);
}

Router& Router::add(std::string method, std::string pattern, Handler handler) {
  Compiled c;
  for (auto s : split_path(pattern)) c.segments.emplace_back(s);
  compiled_.push_back(std::move(c));
  routes_.push_back(Route{std::move(method), std::move(pattern), std::move(handler)});
  return *this;
}

Response Router::handle(const Request& request) const {
  if (request.query_error) {
    return error_response(400, fmt::format("malformed query string: {}", *request.query_error));
  }
  std::vector<std::string> segments;
  for (auto raw : split_path(request.path)) {
    auto decoded = percent_decode(raw);
    if (!decoded) {
      return error_response(400, fmt::format("malformed path segment '{}': {}", raw, decoded.error()));
    }
    segments.push_back(std::move(*decoded));
  }
  std::vector<std::string> allowed;
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    const auto& pattern = compiled_[r].segments;
    const bool rest = !pattern.empty() && is_rest_param(pattern.back());
    if (rest ? segments.size() < pattern.size() : pattern.size() != segments.size()) continue;
    std::vector<std::pair<std::string, std::string>> params;
    bool match = true;
    for (std::size_t i = 0; i < pattern.size() && match; ++i) {
      if (rest && i + 1 == pattern.size()) {
        std::string joined;
        for (std::size_t j = i; j < segments.size(); ++j) {
          joined += (j == i ? "" : "/") + segments[j];
        }
        params.emplace_back(pattern[i].substr(1, pattern[i].size() - 5), std::move(joined));
      } else if (is_param(pattern[i])) {
        params.emplace_back(pattern[i].substr(1, pattern[i].size() - 2), segments[i]);
      } else {
        match = pattern[i] == segments[i];
      }
    }
    if (!match) continue;
    const Route& route = routes_[r];
    if (route.method != request.method && !(request.method == "HEAD" && route.method == "GET")) {
      if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
        allowed.push_back(route.method);
      }
      continue;
    }
    Request routed = request;
    routed.params = std::move(params);
    try {
      Response resp = route.handler(routed);
      if (request.method == "HEAD") {
        // The GET's length, without its body (the server keeps an explicit Content-Length).
        resp.headers.emplace_back("Content-Length", std::to_string(resp.body.size()));
        resp.body.clear();
      }
      return resp;
    } catch (const std::exception& e) {
      logger("http")->error("handler for {} {} threw: {}", route.method, route.pattern, e.what());
      return error_response(
          500, fmt::format("handler for {} {} failed: {}", route.method, route.pattern, e.what()));
    }
  }
  if (!allowed.empty()) {
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    Response r = error_response(
        405, fmt::format("method {} is not allowed on {}; allowed: {}", request.method, request.path, allow));
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  return error_response(404, fmt::format("no route for {} {}", request.method, request.path));
}

}  // namespace rm::core::http
