#include "docker/client.hpp"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "api_json.hpp"

namespace rm::docker {

namespace json = boost::json;
using namespace detail;

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

std::string DockerClient::versioned(std::string_view path) const {
  if (api_version_.empty()) return std::string(path);
  return "/v" + api_version_ + std::string(path);
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

}  // namespace rm::docker
