#include "docker/container_spec.hpp"

#include <cmath>

#include <boost/json.hpp>

namespace rm::docker {

namespace json = boost::json;

namespace {

json::array device_requests(const runtime::GpuRequest& gpus) {
  json::array out;
  if (gpus.mode == runtime::GpuRequest::Mode::none) return out;
  json::object r;
  r["Driver"] = "nvidia";
  switch (gpus.mode) {
    case runtime::GpuRequest::Mode::all:
      r["Count"] = -1;
      break;
    case runtime::GpuRequest::Mode::count:
      r["Count"] = gpus.count;
      break;
    case runtime::GpuRequest::Mode::devices: {
      json::array ids;
      for (const auto& id : gpus.device_ids) ids.emplace_back(id);
      r["DeviceIDs"] = std::move(ids);
      break;
    }
    case runtime::GpuRequest::Mode::none:
      break;
  }
  r["Capabilities"] = json::array{json::array{"gpu"}};
  r["Options"] = json::object{};
  out.emplace_back(std::move(r));
  return out;
}

}  // namespace

std::string device_requests_json(const runtime::GpuRequest& gpus) {
  return json::serialize(device_requests(gpus));
}

std::string create_body_json(const ContainerSpec& spec) {
  json::object body;
  body["Image"] = spec.image;
  json::array cmd;
  for (const auto& c : spec.cmd) cmd.emplace_back(c);
  if (!spec.cmd.empty()) body["Cmd"] = std::move(cmd);
  if (spec.entrypoint) {
    json::array ep;
    for (const auto& e : *spec.entrypoint) ep.emplace_back(e);
    body["Entrypoint"] = std::move(ep);
  }
  json::array env;
  for (const auto& [k, v] : spec.env) env.emplace_back(k + "=" + v);
  body["Env"] = std::move(env);
  json::object labels;
  for (const auto& [k, v] : spec.labels) labels[k] = v;
  body["Labels"] = std::move(labels);
  if (!spec.working_dir.empty()) body["WorkingDir"] = spec.working_dir;
  if (!spec.user.empty()) body["User"] = spec.user;
  body["AttachStdin"] = spec.interactive;
  body["AttachStdout"] = spec.interactive;
  body["AttachStderr"] = spec.interactive;
  body["Tty"] = spec.tty;  // false keeps stdout and stderr apart (multiplexed log stream)
  body["OpenStdin"] = spec.interactive;
  body["StdinOnce"] = spec.interactive;
  if (spec.network_mode == "none") body["NetworkDisabled"] = true;

  json::object host;
  if (spec.memory_bytes > 0) {
    host["Memory"] = spec.memory_bytes;
    host["MemorySwap"] = spec.memory_bytes;  // equal to Memory: no swap on top of the limit
  }
  if (spec.cpu_cores > 0) {
    host["NanoCpus"] = static_cast<std::int64_t>(std::llround(spec.cpu_cores * 1e9));
  }
  if (spec.shm_bytes > 0) host["ShmSize"] = spec.shm_bytes;
  if (spec.pids_limit > 0) host["PidsLimit"] = spec.pids_limit;
  json::array mounts;
  for (const auto& m : spec.mounts) {
    mounts.emplace_back(json::object{
        {"Type", "bind"}, {"Source", m.host_path}, {"Target", m.container_path}, {"ReadOnly", m.read_only}});
  }
  host["Mounts"] = std::move(mounts);
  host["Init"] = spec.init;
  host["NetworkMode"] = spec.network_mode;
  host["DeviceRequests"] = device_requests(spec.gpus);
  host["AutoRemove"] = false;  // we read the exit state before removing
  body["HostConfig"] = std::move(host);
  return json::serialize(body);
}

}  // namespace rm::docker
