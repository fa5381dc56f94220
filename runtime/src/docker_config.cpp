#include "runtime/docker_config.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace rm::runtime {

std::string DockerConfig::canonical_json() const {
  // Keys are inserted in sorted order and every field is always present, so equal configs give
  // byte-identical text. cpu_cores is written as a fixed-precision string: doubles have no
  // single canonical text form across libraries.
  namespace json = boost::json;
  json::object o;
  o["base_image"] = base_image;
  json::object e;
  for (const auto& [k, v] : env) e[k] = v;  // std::map: sorted
  o["env"] = std::move(e);
  json::object g;
  switch (gpus.mode) {
    case GpuRequest::Mode::none: g["mode"] = "none"; break;
    case GpuRequest::Mode::all: g["mode"] = "all"; break;
    case GpuRequest::Mode::count: g["count"] = gpus.count; g["mode"] = "count"; break;
    case GpuRequest::Mode::devices: {
      json::array ids;
      for (const auto& d : gpus.device_ids) ids.emplace_back(d);
      g["device_ids"] = std::move(ids);
      g["mode"] = "devices";
      break;
    }
  }
  o["gpus"] = std::move(g);
  json::array pp;
  for (const auto& p : python_packages) pp.emplace_back(p);
  o["python_packages"] = std::move(pp);
  o["python_version"] = python_version;
  json::object rl;
  rl["cpu_cores"] = fmt::format("{:.3f}", resource_limits.cpu_cores);
  rl["memory_mb"] = resource_limits.memory_mb;
  o["resource_limits"] = std::move(rl);
  o["shm_size_mb"] = shm_size_mb;
  json::array sd;
  for (const auto& p : system_dependencies) sd.emplace_back(p);
  o["system_dependencies"] = std::move(sd);
  json::array vols;
  for (const auto& v : volumes) {
    json::object vo;
    vo["container_path"] = v.container_path;
    vo["host_path"] = v.host_path;
    vo["read_only"] = v.read_only;
    vols.emplace_back(std::move(vo));
  }
  o["volumes"] = std::move(vols);
  return json::serialize(o);
}

}  // namespace rm::runtime
