#include "docker/doctor.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace rm::docker {

bool DoctorReport::ok() const {
  for (const auto& c : checks) {
    if (!c.ok) return false;
  }
  return true;
}

std::string DoctorReport::text() const {
  std::string out;
  for (const auto& c : checks) {
    out += fmt::format("[{}] {}: {}", c.ok ? "ok" : "FAIL", c.name, c.detail);
    if (!c.ok && !c.fix.empty()) out += " -> " + c.fix;
    out += "\n";
  }
  return out;
}

DoctorReport run_doctor(const DoctorOptions& o) {
  DoctorReport r;
  Endpoint ep;
  if (o.endpoint) {
    ep = *o.endpoint;
  } else if (auto e = endpoint_from_env(); e) {
    ep = *e;
  } else {
    r.checks.push_back(
        {"daemon", false, e.error().message, "unset DOCKER_HOST or point it at a unix socket"});
  }

  std::optional<DockerClient> client;
  if (r.checks.empty()) {
    auto c = DockerClient::connect(ep, ClientOptions{std::chrono::seconds(5), std::chrono::seconds(3)});
    if (c) {
      client = std::move(*c);
      r.checks.push_back({"daemon", true, "reachable at " + ep.socket_path, ""});
    } else {
      r.checks.push_back(
          {"daemon", false, c.error().message,
           "start it with scripts/docker-up.sh (or `dockerd &`), or fix the socket's permissions"});
    }
  }
  if (client) {
    auto v = client->version();
    if (v) {
      r.checks.push_back(
          {"api version", true,
           fmt::format("engine {}, API {} (using {})", v->version, v->api_version, client->api_version()),
           ""});
    } else {
      r.checks.push_back({"api version", false, v.error().message, "upgrade docker.io"});
    }
    for (const auto& ref : o.base_images) {
      auto img = client->image_inspect(ref);
      if (img && *img) {
        r.checks.push_back({"base image " + ref, true, "present", ""});
      } else {
        r.checks.push_back({"base image " + ref, false, img ? std::string("missing") : img.error().message,
                            "run scripts/base-images.sh (builds it locally with debootstrap)"});
      }
    }
  }

  struct statvfs sv {};
  if (::statvfs("/dev/shm", &sv) == 0) {
    const std::uint64_t total_mb = std::uint64_t{sv.f_blocks} * sv.f_frsize / (1024 * 1024);
    const std::uint64_t free_mb = std::uint64_t{sv.f_bavail} * sv.f_frsize / (1024 * 1024);
    const bool ok = free_mb >= o.min_shm_mb;
    r.checks.push_back({"/dev/shm", ok, fmt::format("{} MB total, {} MB free", total_mb, free_mb),
                        fmt::format("at least {} MB free are needed: remount with "
                                    "`mount -o remount,size=2G /dev/shm` or lower shm_size_mb",
                                    o.min_shm_mb)});
  } else {
    r.checks.push_back({"/dev/shm", false, "not mounted", "mount a tmpfs on /dev/shm"});
  }

  std::error_code ec;
  std::filesystem::create_directories(o.ipc_root, ec);
  const std::string probe = o.ipc_root + fmt::format("/.doctor-{}", ::getpid());
  bool writable = false;
  if (!ec) {
    std::ofstream f(probe);
    writable = static_cast<bool>(f << "ok");
  }
  std::filesystem::remove(probe, ec);
  r.checks.push_back({"ipc dir", writable, writable ? o.ipc_root + " writable" : o.ipc_root + " not writable",
                      "create it and make it writable for this user (e.g. mkdir -p " + o.ipc_root +
                          " && chmod 1777 " + o.ipc_root + ")"});
  return r;
}

}  // namespace rm::docker
