// DockerClient: the image calls of the Engine API (inspect, build, pull, list, remove).
#include <deque>
#include <set>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "api_json.hpp"
#include "docker/client.hpp"
#include "docker/stream_decoders.hpp"

namespace rm::docker {

namespace json = boost::json;
using namespace detail;

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
  std::string current_step, error_text;
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
  auto answer = stream_answer(
      *this, "POST", path, req.context_tar, "application/x-tar",
      [&](std::string_view piece) { json_lines.feed(piece); }, timeout, cancel);
  if (!answer) return tl::unexpected(answer.error());
  status = answer->status;
  const std::string& raw_error_body = answer->head;
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
  std::string error_text;
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
  auto answer = stream_answer(
      *this, "POST", fmt::format("/images/create?fromImage={}&tag={}", url_encode(name), url_encode(tag)), {},
      "application/json", [&](std::string_view piece) { json_lines.feed(piece); }, timeout, cancel);
  if (!answer) return tl::unexpected(answer.error());
  const int st = answer->status;
  json_lines.flush();
  if (st != 200) {
    return docker_error(
        code_for_status(st),
        fmt::format("pulling {} failed: {} (HTTP {})", ref, api_message(st, answer->head), st), st);
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

}  // namespace rm::docker
