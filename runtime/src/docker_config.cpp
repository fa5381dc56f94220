#include "runtime/docker_config.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "detail/manifest_parser.hpp"

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
    case GpuRequest::Mode::none:
      g["mode"] = "none";
      break;
    case GpuRequest::Mode::all:
      g["mode"] = "all";
      break;
    case GpuRequest::Mode::count:
      g["count"] = gpus.count;
      g["mode"] = "count";
      break;
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

// The docker block of a node entry (docs/manifest.md, "docker").

using namespace detail;

namespace {

constexpr std::string_view kSupportedPython[] = {"3.9", "3.10", "3.11", "3.12", "3.13"};
constexpr double kMinCpu = 0.1;
constexpr std::uint64_t kMinMemoryMb = 128;

}  // namespace

DockerConfig ManifestParser::parse_docker(const YAML::Node& d, const std::string& path,
                                          const std::string& nid) {
  DockerConfig c;
  if (!d.IsMap()) {
    add_at(d, ManifestErrorCode::wrong_type, path, nid,
           fmt::format("{} must be a mapping, got {}", path, describe(d)));
    return c;
  }
  static const std::set<std::string> known = {"python_version",
                                              "base_image",
                                              "system_dependencies",
                                              "system_packages",
                                              "python_packages",
                                              "resource_limits",
                                              "memory_mb",
                                              "cpu_cores",
                                              "env",
                                              "env_vars",
                                              "volumes",
                                              "shm_size_mb",
                                              "gpus",
                                              "gpu_devices"};
  for (const auto& kv : d) {
    if (!known.count(kv.first.Scalar())) {
      m_.warnings_.push_back(fmt::format("{}: {} (node {}): unknown key '{}' is ignored", m_.source_, path,
                                         nid, kv.first.Scalar()));
    }
  }
  // python_version: a plain 3.10 in YAML keeps its text, so "3.10" and 3.10 both work.
  YAML::Node pv = d["python_version"];
  if (!pv.IsDefined() || scalar_is_null(pv)) {
    add_at(d, ManifestErrorCode::missing_field, path + ".python_version", nid,
           fmt::format("{}.python_version is required (one of {})", path, fmt::join(kSupportedPython, ", ")));
  } else if (!pv.IsScalar()) {
    add_at(pv, ManifestErrorCode::wrong_type, path + ".python_version", nid,
           fmt::format("{}.python_version must be a string such as \"3.11\", got {}", path, describe(pv)));
  } else {
    std::string ver = pv.Scalar();
    // "3.11.4" is accepted as 3.11 for the check; the full text is kept.
    std::string minor = ver;
    if (std::count(ver.begin(), ver.end(), '.') == 2) minor = ver.substr(0, ver.rfind('.'));
    if (std::find(std::begin(kSupportedPython), std::end(kSupportedPython), minor) ==
        std::end(kSupportedPython)) {
      add_at(pv, ManifestErrorCode::invalid_value, path + ".python_version", nid,
             fmt::format("{}.python_version \"{}\" is not supported (use one of {})", path, ver,
                         fmt::join(kSupportedPython, ", ")));
    }
    c.python_version = ver;
  }
  if (auto img = get_string(d, "base_image", path + ".base_image", nid, false, d)) {
    if (img->empty())
      add_at(d["base_image"], ManifestErrorCode::invalid_value, path + ".base_image", nid,
             fmt::format("{}.base_image must not be empty (leave it out for python:<version>-slim)", path));
    c.base_image = *img;
  }
  if (c.base_image.empty() && !c.python_version.empty())
    c.base_image = fmt::format("python:{}-slim", c.python_version);

  std::string used;
  YAML::Node sd = either(d, "system_dependencies", "system_packages", path, nid, &used);
  c.system_dependencies = get_package_list(sd, path + "." + used, nid);
  c.python_packages = get_package_list(d["python_packages"], path + ".python_packages", nid);

  parse_limits(d, path, nid, c.resource_limits);

  YAML::Node env = either(d, "env", "env_vars", path, nid, &used);
  if (env.IsDefined() && !scalar_is_null(env)) {
    if (!env.IsMap()) {
      add_at(env, ManifestErrorCode::wrong_type, path + "." + used, nid,
             fmt::format("{}.{} must be a mapping of NAME: value, got {}", path, used, describe(env)));
    } else {
      for (const auto& kv : env) {
        auto p = fmt::format("{}.{}.{}", path, used, kv.first.Scalar());
        if (!kv.second.IsScalar()) {
          add_at(kv.second, ManifestErrorCode::wrong_type, p, nid,
                 fmt::format("{} must be a string, got {}", p, describe(kv.second)));
          continue;
        }
        c.env[kv.first.Scalar()] = kv.second.Scalar();
      }
    }
  }
  parse_volumes(d["volumes"], path + ".volumes", nid, c.volumes);

  YAML::Node shm = d["shm_size_mb"];
  if (shm.IsDefined() && !scalar_is_null(shm)) {
    if (auto s = get_uint(shm, path + ".shm_size_mb", nid)) {
      if (*s < 1) {
        add_at(shm, ManifestErrorCode::invalid_value, path + ".shm_size_mb", nid,
               fmt::format("{}.shm_size_mb must be at least 1", path));
      }
      c.shm_size_mb = *s;
    }
  }
  YAML::Node g = either(d, "gpus", "gpu_devices", path, nid, &used);
  parse_gpus(g, path + "." + used, nid, c.gpus);
  return c;
}

void ManifestParser::parse_limits(const YAML::Node& d, const std::string& path, const std::string& nid,
                                  ResourceLimits& out) {
  YAML::Node rl = d["resource_limits"];
  YAML::Node mem, cpu;
  std::string base;
  if (rl.IsDefined() && !scalar_is_null(rl)) {
    if (!rl.IsMap()) {
      add_at(rl, ManifestErrorCode::wrong_type, path + ".resource_limits", nid,
             fmt::format("{}.resource_limits must be a mapping with memory_mb and cpu_cores, got {}", path,
                         describe(rl)));
      return;
    }
    if (d["memory_mb"].IsDefined() || d["cpu_cores"].IsDefined()) {
      add_at(
          d, ManifestErrorCode::invalid_value, path + ".resource_limits", nid,
          fmt::format("{} gives limits both in resource_limits and at docker level; give them once", path));
    }
    base = path + ".resource_limits";
    mem = rl["memory_mb"];
    cpu = rl["cpu_cores"];
  } else if (d["memory_mb"].IsDefined() || d["cpu_cores"].IsDefined()) {
    base = path;  // flat spelling
    mem = d["memory_mb"];
    cpu = d["cpu_cores"];
  } else {
    add_at(d, ManifestErrorCode::missing_field, path + ".resource_limits", nid,
           fmt::format("{}.resource_limits is required (memory_mb >= {} and cpu_cores >= {})", path,
                       kMinMemoryMb, kMinCpu));
    return;
  }
  const YAML::Node& where = rl.IsDefined() ? rl : d;
  if (!mem.IsDefined() || scalar_is_null(mem)) {
    add_at(where, ManifestErrorCode::missing_field, base + ".memory_mb", nid,
           fmt::format("{}.memory_mb is required (at least {})", base, kMinMemoryMb));
  } else if (auto m = get_uint(mem, base + ".memory_mb", nid)) {
    if (*m < kMinMemoryMb) {
      add_at(mem, ManifestErrorCode::invalid_value, base + ".memory_mb", nid,
             fmt::format("{}.memory_mb = {} is below the minimum of {}", base, *m, kMinMemoryMb));
    }
    out.memory_mb = *m;
  }
  if (!cpu.IsDefined() || scalar_is_null(cpu)) {
    add_at(where, ManifestErrorCode::missing_field, base + ".cpu_cores", nid,
           fmt::format("{}.cpu_cores is required (at least {})", base, kMinCpu));
  } else if (auto c = get_number(cpu, base + ".cpu_cores", nid)) {
    unsigned host = std::max(1u, std::thread::hardware_concurrency());
    if (*c < kMinCpu) {
      add_at(cpu, ManifestErrorCode::invalid_value, base + ".cpu_cores", nid,
             fmt::format("{}.cpu_cores = {} is below the minimum of {}", base, cpu.Scalar(), kMinCpu));
    } else if (*c > host) {
      add_at(
          cpu, ManifestErrorCode::invalid_value, base + ".cpu_cores", nid,
          fmt::format("{}.cpu_cores = {} is more than the {} cores of this host", base, cpu.Scalar(), host));
    }
    out.cpu_cores = *c;
  }
}

void ManifestParser::parse_volumes(const YAML::Node& v, const std::string& path, const std::string& nid,
                                   std::vector<VolumeMount>& out) {
  if (!v.IsDefined() || scalar_is_null(v)) return;
  if (!v.IsSequence()) {
    add_at(v, ManifestErrorCode::wrong_type, path, nid,
           fmt::format("{} must be a list, got {}", path, describe(v)));
    return;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto p = fmt::format("{}[{}]", path, i);
    const YAML::Node& e = v[i];
    if (!e.IsMap()) {
      add_at(e, ManifestErrorCode::wrong_type, p, nid,
             fmt::format("{} must be a mapping with host_path and container_path, got {}", p, describe(e)));
      continue;
    }
    VolumeMount m;
    auto host = get_string(e, "host_path", p + ".host_path", nid, true, e);
    auto cont = get_string(e, "container_path", p + ".container_path", nid, true, e);
    if (auto ro = get_bool(e, "read_only", p + ".read_only", nid)) m.read_only = *ro;
    if (host) {
      std::filesystem::path hp(*host);
      if (hp.is_relative()) hp = (base_dir_.empty() ? std::filesystem::current_path() : base_dir_) / hp;
      hp = hp.lexically_normal();
      std::error_code ec;
      if (host->empty() || !std::filesystem::exists(hp, ec)) {
        add_at(e["host_path"], ManifestErrorCode::missing_path, p + ".host_path", nid,
               fmt::format("{}.host_path \"{}\" does not exist (resolved to {})", p, *host, hp.string()));
      }
      m.host_path = hp.string();
    }
    if (cont) {
      if (cont->empty() || cont->front() != '/') {
        add_at(e["container_path"], ManifestErrorCode::invalid_value, p + ".container_path", nid,
               fmt::format("{}.container_path \"{}\" must be an absolute path", p, *cont));
      }
      m.container_path = *cont;
    }
    out.push_back(std::move(m));
  }
}

void ManifestParser::parse_gpus(const YAML::Node& g, const std::string& path, const std::string& nid,
                                GpuRequest& out) {
  if (!g.IsDefined() || scalar_is_null(g)) return;
  if (g.IsScalar()) {
    if (g.Scalar() == "all") {
      out.mode = GpuRequest::Mode::all;
      return;
    }
    auto n = scalar_int(g);
    if (n && *n >= 1) {
      out.mode = GpuRequest::Mode::count;
      out.count = static_cast<int>(*n);
      return;
    }
  } else if (g.IsSequence()) {
    out.mode = GpuRequest::Mode::devices;
    bool ok = g.size() > 0;
    for (const auto& e : g) {
      if (!e.IsScalar() || e.Scalar().empty())
        ok = false;
      else
        out.device_ids.push_back(e.Scalar());
    }
    if (ok) return;
  }
  add_at(g, ManifestErrorCode::invalid_value, path, nid,
         fmt::format("{} must be \"all\", a GPU count >= 1 or a non-empty list of device ids, got {}", path,
                     describe(g)));
}

}  // namespace rm::runtime
