#include "docker/client.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <set>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "docker/stream_decoders.hpp"

namespace rm::docker {

namespace asio = boost::asio;
namespace json = boost::json;
using local = asio::local::stream_protocol;

std::string_view to_string(DockerErrorCode code) {
  switch (code) {
    case DockerErrorCode::daemon_unreachable:
      return "daemon_unreachable";
    case DockerErrorCode::api_error:
      return "api_error";
    case DockerErrorCode::not_found:
      return "not_found";
    case DockerErrorCode::conflict:
      return "conflict";
    case DockerErrorCode::protocol:
      return "protocol";
    case DockerErrorCode::timeout:
      return "timeout";
    case DockerErrorCode::cancelled:
      return "cancelled";
    case DockerErrorCode::build_failed:
      return "build_failed";
    case DockerErrorCode::container_failed:
      return "container_failed";
    case DockerErrorCode::invalid_argument:
      return "invalid_argument";
    case DockerErrorCode::io:
      return "io";
  }
  return "unknown";
}

std::string daemon_unreachable_message(const std::string& socket_path, std::string_view reason) {
  return fmt::format(
      "Docker daemon not accessible at {}: {}. Start the daemon (scripts/docker-up.sh, or "
      "`dockerd &` as root) or, if it runs, check the permissions on {} (the user needs read "
      "and write access, e.g. membership in group docker); DOCKER_HOST=unix:///path selects "
      "another socket",
      socket_path, reason, socket_path);
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<Endpoint> endpoint_from_env() {
  const char* host = std::getenv("DOCKER_HOST");
  Endpoint ep;
  if (host == nullptr || *host == '\0') return ep;
  std::string_view h(host);
  if (h.starts_with("unix://")) {
    ep.socket_path = std::string(h.substr(7));
    if (ep.socket_path.empty() || ep.socket_path.front() != '/') {
      return docker_error(DockerErrorCode::invalid_argument,
                          "DOCKER_HOST='" + std::string(h) +
                              "': the socket path must be absolute, e.g. unix:///var/run/docker.sock");
    }
    return ep;
  }
  return docker_error(DockerErrorCode::invalid_argument,
                      "DOCKER_HOST='" + std::string(h) +
                          "' is not supported: node containers share memory with this host, so "
                          "use the local daemon's socket (unix:///var/run/docker.sock)");
}

namespace {

// A failure inside the I/O coroutine, carried out of it as an exception (module internal).
struct IoFailure {
  DockerErrorCode code;
  std::string reason;
};

std::string api_message(int status, std::string_view body) {
  // The API's errors are {"message": "..."}; fall back to the raw body.
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

}  // namespace

std::string DockerClient::versioned(std::string_view path) const {
  if (api_version_.empty()) return std::string(path);
  return "/v" + api_version_ + std::string(path);
}

Result<int> DockerClient::request_stream(std::string_view method, std::string_view path,
                                         std::string_view body, std::string_view content_type,
                                         const std::function<bool(std::string_view)>& on_body,
                                         std::chrono::milliseconds timeout, const CancelToken* cancel) const {
  std::string wire =
      fmt::format("{} {} HTTP/1.1\r\nHost: docker\r\nUser-Agent: remotemedia\r\n", method, versioned(path));
  if (!body.empty() || method == "POST" || method == "PUT") {
    wire += fmt::format("Content-Type: {}\r\nContent-Length: {}\r\n", content_type, body.size());
  }
  wire += "Connection: close\r\n\r\n";
  wire.append(body);

  asio::io_context ioc(1);
  local::socket sock(ioc);
  bool finished = false;
  bool connected = false;
  std::optional<IoFailure> failure;
  int status = 0;

  ResponseDecoder decoder(
      {[&](int s) { status = s; }, [&](std::string_view piece) { return on_body(piece); }});

  auto io = [&]() -> asio::awaitable<void> {
    boost::system::error_code ec;
    co_await sock.async_connect(local::endpoint(endpoint_.socket_path),
                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec) throw IoFailure{DockerErrorCode::daemon_unreachable, ec.message()};
    connected = true;
    co_await asio::async_write(sock, asio::buffer(wire), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) throw IoFailure{DockerErrorCode::protocol, "sending the request failed: " + ec.message()};
    std::array<char, 64 * 1024> buf;
    for (;;) {
      const std::size_t n =
          co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (n > 0 && !decoder.feed(std::string_view(buf.data(), n))) {
        if (decoder.stopped()) co_return;
        throw IoFailure{DockerErrorCode::protocol, decoder.error()};
      }
      if (decoder.done()) co_return;
      if (ec == asio::error::eof) {
        if (!decoder.finish_eof()) throw IoFailure{DockerErrorCode::protocol, decoder.error()};
        co_return;
      }
      if (ec) throw IoFailure{DockerErrorCode::protocol, "reading the response failed: " + ec.message()};
    }
  };

  asio::co_spawn(ioc, io(), [&](std::exception_ptr e) {
    finished = true;
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const IoFailure& f) {
      failure = f;
    } catch (const std::exception& ex) {
      failure = IoFailure{DockerErrorCode::protocol, ex.what()};
    }
  });

  const auto start = std::chrono::steady_clock::now();
  std::optional<DockerErrorCode> aborted;
  // The loop runs the I/O on this thread in short slices so a deadline or a cancel from
  // another thread can close the socket between slices (no cross-thread socket access).
  while (!finished) {
    ioc.run_for(std::chrono::milliseconds(20));
    if (finished) break;
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const auto limit = connected ? timeout : std::min(timeout, options_.connect_timeout);
    if (!aborted && cancel != nullptr && cancel->cancelled()) aborted = DockerErrorCode::cancelled;
    if (!aborted && elapsed > limit) aborted = DockerErrorCode::timeout;
    if (aborted) {
      boost::system::error_code ignored;
      sock.close(ignored);
    }
  }
  if (aborted) {
    if (*aborted == DockerErrorCode::cancelled) {
      return docker_error(DockerErrorCode::cancelled, fmt::format("{} {} cancelled", method, path));
    }
    if (!connected) {
      return docker_error(DockerErrorCode::daemon_unreachable,
                          daemon_unreachable_message(endpoint_.socket_path, "connect timed out"));
    }
    return docker_error(DockerErrorCode::timeout, fmt::format("{} {} got no complete answer within {} ms",
                                                              method, path, timeout.count()));
  }
  if (failure) {
    if (failure->code == DockerErrorCode::daemon_unreachable) {
      return docker_error(failure->code, daemon_unreachable_message(endpoint_.socket_path, failure->reason));
    }
    return docker_error(failure->code, fmt::format("{} {}: {}", method, path, failure->reason));
  }
  return status;
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

Result<DockerClient> DockerClient::connect(Endpoint endpoint, Options options) {
  DockerClient c(std::move(endpoint), options);
  auto v = c.version();
  if (!v) return tl::unexpected(v.error());
  // Use the daemon's version unless it is newer than the API this client was written against.
  auto parse = [](const std::string& s) {
    int major = 0, minor = 0;
    std::sscanf(s.c_str(), "%d.%d", &major, &minor);
    return major * 1000 + minor;
  };
  const std::string max(kMaxApiVersion);
  c.api_version_ = parse(v->api_version) > parse(max) ? max : v->api_version;
  if (parse(c.api_version_) < parse("1.40")) {
    return docker_error(DockerErrorCode::api_error,
                        fmt::format("Docker daemon at {} speaks API {} but at least 1.40 is needed "
                                    "(Docker 19.03 or newer); upgrade docker.io",
                                    c.endpoint_.socket_path, v->api_version));
  }
  return c;
}

Result<DockerClient> DockerClient::connect_from_env(Options options) {
  auto ep = endpoint_from_env();
  if (!ep) return tl::unexpected(ep.error());
  return connect(std::move(*ep), options);
}

Status DockerClient::ping() const {
  auto r = request("GET", "/_ping");
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return status_error("ping", r->status, r->body);
  return {};
}

Result<VersionInfo> DockerClient::version() const {
  auto r = request("GET", "/version");
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return status_error("version", r->status, r->body);
  auto v = parse_json(r->body, "version");
  if (!v) return tl::unexpected(v.error());
  if (!v->is_object()) return docker_error(DockerErrorCode::protocol, "version: not an object");
  const auto& o = v->as_object();
  VersionInfo info{str(o, "Version"), str(o, "ApiVersion"), str(o, "MinAPIVersion"),
                   str(o, "Os"),      str(o, "Arch"),       str(o, "KernelVersion")};
  if (info.api_version.empty()) {
    return docker_error(DockerErrorCode::protocol, "version: the daemon did not report ApiVersion");
  }
  return info;
}

// ------------------------------------------------------------------------------------- images

namespace {
ImageInfo image_from(const json::object& o) {
  ImageInfo i;
  i.id = str(o, "Id");
  if (auto* t = o.if_contains("RepoTags"); t && t->is_array()) {
    for (const auto& tag : t->as_array()) {
      if (tag.is_string()) i.tags.emplace_back(tag.as_string());
    }
  }
  i.labels = labels_of(obj(o, "Config"), "Labels");
  if (i.labels.empty()) i.labels = labels_of(o, "Labels");
  i.size = num(o, "Size");
  if (auto* e = obj(o, "Config").if_contains("Env"); e && e->is_array()) {
    for (const auto& kv : e->as_array()) {
      if (kv.is_string()) i.env.emplace_back(kv.as_string());
    }
  }
  if (auto* c = o.if_contains("Created")) {
    i.created = c->is_string() ? std::string(c->as_string()) : std::to_string(num(o, "Created"));
  }
  return i;
}
}  // namespace

Result<std::optional<ImageInfo>> DockerClient::image_inspect(std::string_view ref) const {
  if (ref.empty()) return docker_error(DockerErrorCode::invalid_argument, "image name is empty");
  auto r = request("GET", "/images/" + std::string(ref) + "/json");
  if (!r) return tl::unexpected(r.error());
  if (r->status == 404) return std::optional<ImageInfo>{};
  if (r->status != 200) return status_error("inspect image " + std::string(ref), r->status, r->body);
  auto v = parse_json(r->body, "inspect image");
  if (!v) return tl::unexpected(v.error());
  if (!v->is_object()) return docker_error(DockerErrorCode::protocol, "inspect image: not an object");
  return std::optional<ImageInfo>(image_from(v->as_object()));
}

Result<BuildOutcome> DockerClient::image_build(const BuildRequest& req, std::chrono::milliseconds timeout,
                                               const CancelToken* cancel) const {
  json::object args, labels;
  for (const auto& [k, v] : req.build_args) args[k] = v;
  for (const auto& [k, v] : req.labels) labels[k] = v;
  std::string path = fmt::format("/build?t={}&rm=1&forcerm=1&networkmode={}&buildargs={}&labels={}",
                                 url_encode(req.tag), url_encode(req.network_mode),
                                 url_encode(json::serialize(args)), url_encode(json::serialize(labels)));
  if (req.no_cache) path += "&nocache=1";

  constexpr std::size_t kTail = 30;
  BuildOutcome outcome;
  std::deque<std::string> tail;
  std::string current_step, error_text, raw_error_body;
  int status = 0;
  // Progress: one JSON object per line: {"stream": "..."} (may hold several lines or a part of
  // one), {"aux": {"ID": "sha256:..."}}, or {"error": "...", "errorDetail": {...}}.
  std::string last_layer;  // " ---> 1a2b3c4d5e6f": the image of the last completed step
  LineSplitter text_lines([&](std::string_view line) {
    if (line.starts_with("Step ")) current_step = std::string(line);
    if (line.starts_with(" ---> ") && line.size() == 18 &&
        line.substr(6).find_first_not_of("0123456789abcdef") == std::string_view::npos) {
      last_layer = std::string(line.substr(6));
    }
    if (req.on_progress) req.on_progress(line);
    tail.emplace_back(line);
    if (tail.size() > kTail) tail.pop_front();
  });
  LineSplitter json_lines([&](std::string_view line) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      text_lines.feed(line);
      text_lines.feed("\n");
      return;
    }
    const auto& o = v.as_object();
    if (auto s = str(o, "stream"); !s.empty()) text_lines.feed(s);
    if (auto e = str(o, "error"); !e.empty()) error_text = e;
    if (auto id = str(obj(o, "aux"), "ID"); !id.empty()) outcome.image_id = id;
  });
  auto st = request_stream(
      "POST", path, req.context_tar, "application/x-tar",
      [&](std::string_view piece) {
        // Error answers (bad Dockerfile, ...) are one short JSON object; keep its start.
        if (raw_error_body.size() < 4096) raw_error_body.append(piece.substr(0, 4096));
        json_lines.feed(piece);
        return true;
      },
      timeout, cancel);
  if (!st) return tl::unexpected(st.error());
  status = *st;
  json_lines.flush();
  text_lines.flush();
  if (status != 200) {
    return docker_error(status == 404 ? DockerErrorCode::not_found : DockerErrorCode::build_failed,
                        fmt::format("building image {} failed: {} (HTTP {})", req.tag,
                                    api_message(status, raw_error_body), status),
                        status);
  }
  outcome.log_tail.assign(tail.begin(), tail.end());
  if (!error_text.empty()) {
    // The steps before the failure left untagged images behind; removing the last one removes
    // its untagged parents too. Never touch a tagged image (e.g. the base image itself).
    if (!last_layer.empty()) {
      if (auto img = image_inspect(last_layer); img && *img && (*img)->tags.empty()) {
        (void)image_remove(last_layer, false);
      }
    }
    std::string msg =
        fmt::format("building image {} failed at {}: {}", req.tag,
                    current_step.empty() ? std::string("the first step") : current_step, error_text);
    if (!outcome.log_tail.empty()) {
      msg += "\nlast build log lines:";
      const std::size_t from = outcome.log_tail.size() > 15 ? outcome.log_tail.size() - 15 : 0;
      for (std::size_t i = from; i < outcome.log_tail.size(); ++i) msg += "\n  " + outcome.log_tail[i];
    }
    return docker_error(DockerErrorCode::build_failed, std::move(msg));
  }
  if (outcome.image_id.empty()) {
    // Older daemons only print "Successfully built <id>"; ask for the tag instead.
    auto img = image_inspect(req.tag);
    if (img && *img) outcome.image_id = (*img)->id;
  }
  return outcome;
}

Status DockerClient::image_pull(std::string_view ref,
                                const std::function<void(std::string_view)>& on_progress,
                                std::chrono::milliseconds timeout, const CancelToken* cancel) const {
  if (ref.empty()) return docker_error(DockerErrorCode::invalid_argument, "image name is empty");
  // name[:tag]; a ':' before the last '/' belongs to a registry host:port.
  std::string name(ref), tag = "latest";
  if (auto colon = name.rfind(':');
      colon != std::string::npos && (name.rfind('/') == std::string::npos || colon > name.rfind('/'))) {
    tag = name.substr(colon + 1);
    name.resize(colon);
  }
  std::string error_text, raw;
  std::set<std::string> seen;  // "<id> <status>" already reported
  LineSplitter json_lines([&](std::string_view line) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) return;
    const auto& o = v.as_object();
    if (auto e = str(o, "error"); !e.empty()) error_text = e;
    auto status = str(o, "status");
    if (status.empty()) return;
    auto id = str(o, "id");
    if (!seen.insert(id + " " + status).second) return;
    if (on_progress) on_progress(id.empty() ? status : id + ": " + status);
  });
  auto st = request_stream(
      "POST", fmt::format("/images/create?fromImage={}&tag={}", url_encode(name), url_encode(tag)), {},
      "application/json",
      [&](std::string_view piece) {
        if (raw.size() < 4096) raw.append(piece.substr(0, 4096));
        json_lines.feed(piece);
        return true;
      },
      timeout, cancel);
  if (!st) return tl::unexpected(st.error());
  json_lines.flush();
  if (*st != 200) {
    return docker_error(code_for_status(*st),
                        fmt::format("pulling {} failed: {} (HTTP {})", ref, api_message(*st, raw), *st), *st);
  }
  if (!error_text.empty()) {
    return docker_error(DockerErrorCode::api_error, fmt::format("pulling {} failed: {}", ref, error_text));
  }
  return {};
}

Result<std::vector<ImageInfo>> DockerClient::image_list(
    const std::map<std::string, std::string>& labels) const {
  auto r = request("GET", "/images/json?filters=" + label_filters(labels));
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return status_error("list images", r->status, r->body);
  auto v = parse_json(r->body, "list images");
  if (!v) return tl::unexpected(v.error());
  std::vector<ImageInfo> out;
  if (v->is_array()) {
    for (const auto& i : v->as_array()) {
      if (i.is_object()) out.push_back(image_from(i.as_object()));
    }
  }
  return out;
}

Status DockerClient::image_remove(std::string_view ref, bool force) const {
  auto r = request("DELETE", "/images/" + std::string(ref) + (force ? "?force=1" : ""));
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return status_error("remove image " + std::string(ref), r->status, r->body);
  return {};
}

// --------------------------------------------------------------------------------- containers

Result<std::string> DockerClient::container_create(const ContainerSpec& spec) const {
  if (spec.image.empty()) {
    return docker_error(DockerErrorCode::invalid_argument, "container spec has no image");
  }
  std::string path = "/containers/create";
  if (!spec.name.empty()) path += "?name=" + url_encode(spec.name);
  auto r = request("POST", path, create_body_json(spec));
  if (!r) return tl::unexpected(r.error());
  if (r->status != 201) {
    return status_error("create container from " + spec.image, r->status, r->body);
  }
  auto v = parse_json(r->body, "create container");
  if (!v) return tl::unexpected(v.error());
  std::string id = v->is_object() ? str(v->as_object(), "Id") : std::string();
  if (id.empty()) return docker_error(DockerErrorCode::protocol, "create container: no Id in the answer");
  return id;
}

Status DockerClient::container_start(std::string_view id) const {
  auto r = request("POST", "/containers/" + std::string(id) + "/start");
  if (!r) return tl::unexpected(r.error());
  if (r->status != 204 && r->status != 304) {
    return status_error("start container " + std::string(id.substr(0, 12)), r->status, r->body);
  }
  return {};
}

Result<int> DockerClient::container_wait(std::string_view id, std::chrono::milliseconds timeout,
                                         const CancelToken* cancel) const {
  std::string body;
  auto st = request_stream(
      "POST", "/containers/" + std::string(id) + "/wait?condition=not-running", {}, "application/json",
      [&](std::string_view piece) {
        body.append(piece);
        return true;
      },
      timeout, cancel);
  if (!st) return tl::unexpected(st.error());
  if (*st != 200) return status_error("wait for container " + std::string(id.substr(0, 12)), *st, body);
  auto v = parse_json(body, "wait");
  if (!v) return tl::unexpected(v.error());
  if (!v->is_object()) return docker_error(DockerErrorCode::protocol, "wait: not an object");
  if (auto err = str(obj(v->as_object(), "Error"), "Message"); !err.empty()) {
    return docker_error(DockerErrorCode::api_error, "wait for container: " + err);
  }
  return static_cast<int>(num(v->as_object(), "StatusCode"));
}

Result<ContainerInfo> DockerClient::container_inspect(std::string_view id) const {
  auto r = request("GET", "/containers/" + std::string(id) + "/json");
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) {
    return status_error("inspect container " + std::string(id.substr(0, 12)), r->status, r->body);
  }
  auto v = parse_json(r->body, "inspect container");
  if (!v) return tl::unexpected(v.error());
  if (!v->is_object()) return docker_error(DockerErrorCode::protocol, "inspect container: not an object");
  const auto& o = v->as_object();
  ContainerInfo c;
  c.id = str(o, "Id");
  c.name = str(o, "Name");
  if (c.name.starts_with('/')) c.name.erase(0, 1);
  c.image = str(obj(o, "Config"), "Image");
  const auto& s = obj(o, "State");
  c.status = str(s, "Status");
  if (auto* b = s.if_contains("Running"); b && b->is_bool()) c.running = b->as_bool();
  if (auto* b = s.if_contains("OOMKilled"); b && b->is_bool()) c.oom_killed = b->as_bool();
  c.exit_code = static_cast<int>(num(s, "ExitCode"));
  c.pid = static_cast<int>(num(s, "Pid"));
  c.error = str(s, "Error");
  c.started_at = str(s, "StartedAt");
  c.finished_at = str(s, "FinishedAt");
  c.labels = labels_of(obj(o, "Config"), "Labels");
  const auto& h = obj(o, "HostConfig");
  c.memory_bytes = num(h, "Memory");
  c.memory_swap_bytes = num(h, "MemorySwap");
  c.nano_cpus = num(h, "NanoCpus");
  c.shm_bytes = num(h, "ShmSize");
  c.network_mode = str(h, "NetworkMode");
  return c;
}

Status DockerClient::container_logs(std::string_view id, bool follow,
                                    const std::function<void(LogStream, std::string_view)>& on_line,
                                    const CancelToken* cancel, std::chrono::milliseconds timeout) const {
  LogDemuxer demux([&](int stream, std::string_view line) {
    on_line(stream == 2 ? LogStream::stderr_stream : LogStream::stdout_stream, line);
  });
  std::string error_body;
  int status = 0;
  auto st = request_stream(
      "GET", fmt::format("/containers/{}/logs?stdout=1&stderr=1&follow={}", id, follow ? 1 : 0), {},
      "application/json",
      [&](std::string_view piece) {
        // The status is only known after the call; error bodies are short JSON, logs are not.
        if (error_body.size() < 4096) error_body.append(piece.substr(0, 4096));
        demux.feed(piece);
        return true;
      },
      timeout, cancel);
  if (!st) return tl::unexpected(st.error());
  status = *st;
  if (status != 200) {
    return status_error("logs of container " + std::string(id.substr(0, 12)), status, error_body);
  }
  demux.flush();
  return {};
}

Status DockerClient::container_stop(std::string_view id, std::chrono::seconds grace) const {
  DockerClient patient = *this;
  patient.options_.timeout =
      std::max(options_.timeout, std::chrono::milliseconds(grace) + std::chrono::seconds(15));
  auto r = patient.request("POST", fmt::format("/containers/{}/stop?t={}", id, grace.count()));
  if (!r) return tl::unexpected(r.error());
  if (r->status != 204 && r->status != 304) {
    return status_error("stop container " + std::string(id.substr(0, 12)), r->status, r->body);
  }
  return {};
}

Status DockerClient::container_kill(std::string_view id, std::string_view signal) const {
  auto r = request("POST", fmt::format("/containers/{}/kill?signal={}", id, url_encode(signal)));
  if (!r) return tl::unexpected(r.error());
  if (r->status != 204) {
    return status_error("kill container " + std::string(id.substr(0, 12)), r->status, r->body);
  }
  return {};
}

Status DockerClient::container_remove(std::string_view id, bool force, bool volumes) const {
  auto r = request("DELETE", fmt::format("/containers/{}?force={}&v={}", id, force ? 1 : 0, volumes ? 1 : 0));
  if (!r) return tl::unexpected(r.error());
  if (r->status != 204) {
    return status_error("remove container " + std::string(id.substr(0, 12)), r->status, r->body);
  }
  return {};
}

Result<std::vector<ContainerSummary>> DockerClient::container_list(
    const std::map<std::string, std::string>& labels, bool all) const {
  auto r =
      request("GET", fmt::format("/containers/json?all={}&filters={}", all ? 1 : 0, label_filters(labels)));
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return status_error("list containers", r->status, r->body);
  auto v = parse_json(r->body, "list containers");
  if (!v) return tl::unexpected(v.error());
  std::vector<ContainerSummary> out;
  if (!v->is_array()) return out;
  for (const auto& item : v->as_array()) {
    if (!item.is_object()) continue;
    const auto& o = item.as_object();
    ContainerSummary c;
    c.id = str(o, "Id");
    if (auto* n = o.if_contains("Names");
        n && n->is_array() && !n->as_array().empty() && n->as_array()[0].is_string()) {
      c.name = std::string(n->as_array()[0].as_string());
      if (c.name.starts_with('/')) c.name.erase(0, 1);
    }
    c.image = str(o, "Image");
    c.image_id = str(o, "ImageID");
    c.state = str(o, "State");
    c.labels = labels_of(o, "Labels");
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace rm::docker
