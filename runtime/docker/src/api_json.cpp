#include "api_json.hpp"

#include <fmt/format.h>

#include "docker/client.hpp"

namespace rm::docker::detail {

namespace json = boost::json;

std::string api_message(int status, std::string_view body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (auto* m = v.as_object().if_contains("message"); m && m->is_string()) {
      return std::string(m->as_string());
    }
  }
  std::string text(body.substr(0, 500));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.empty() ? fmt::format("HTTP status {}", status) : text;
}

DockerErrorCode code_for_status(int status) {
  if (status == 404) return DockerErrorCode::not_found;
  if (status == 409) return DockerErrorCode::conflict;
  return DockerErrorCode::api_error;
}

tl::unexpected<DockerError> status_error(std::string_view what, int status, std::string_view body) {
  return docker_error(code_for_status(status),
                      fmt::format("{}: {} (HTTP {})", what, api_message(status, body), status), status);
}

std::string str(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->as_string());
  return {};
}
std::int64_t num(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key)) {
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
  }
  return 0;
}
std::map<std::string, std::string> labels_of(const json::object& o, std::string_view key) {
  std::map<std::string, std::string> out;
  if (auto* v = o.if_contains(key); v && v->is_object()) {
    for (const auto& [k, val] : v->as_object()) {
      if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
    }
  }
  return out;
}
const json::object& obj(const json::object& o, std::string_view key) {
  static const json::object empty;
  if (auto* v = o.if_contains(key); v && v->is_object()) return v->as_object();
  return empty;
}

Result<json::value> parse_json(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec) {
    return docker_error(DockerErrorCode::protocol,
                        fmt::format("{}: the daemon sent invalid JSON ({})", what, ec.message()));
  }
  return v;
}

std::string label_filters(const std::map<std::string, std::string>& labels) {
  json::array l;
  for (const auto& [k, v] : labels) l.emplace_back(v.empty() ? k : k + "=" + v);
  json::object f;
  f["label"] = std::move(l);
  return url_encode(json::serialize(f));
}

Result<StreamedAnswer> stream_answer(const DockerClient& client, std::string_view method,
                                     std::string_view path, std::string_view body,
                                     std::string_view content_type,
                                     const std::function<void(std::string_view)>& sink,
                                     std::chrono::milliseconds timeout, const CancelToken* cancel) {
  constexpr std::size_t kKept = 4096;
  StreamedAnswer answer;
  auto st = client.request_stream(
      method, path, body, content_type,
      [&](std::string_view piece) {
        if (answer.head.size() < kKept) answer.head.append(piece.substr(0, kKept - answer.head.size()));
        sink(piece);
        return true;
      },
      timeout, cancel);
  if (!st) return tl::unexpected(st.error());
  answer.status = *st;
  return answer;
}

}  // namespace rm::docker::detail
