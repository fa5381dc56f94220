// DockerClient: the container calls of the Engine API (create, start, wait, inspect, logs,
// stop, kill, remove, list).
#include <algorithm>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "api_json.hpp"
#include "docker/client.hpp"
#include "docker/stream_decoders.hpp"

namespace rm::docker {

namespace json = boost::json;
using namespace detail;

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
  auto answer = stream_answer(
      *this, "GET", fmt::format("/containers/{}/logs?stdout=1&stderr=1&follow={}", id, follow ? 1 : 0), {},
      "application/json", [&](std::string_view piece) { demux.feed(piece); }, timeout, cancel);
  if (!answer) return tl::unexpected(answer.error());
  if (answer->status != 200) {
    return status_error("logs of container " + std::string(id.substr(0, 12)), answer->status, answer->head);
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
