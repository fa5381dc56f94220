#include "docker/docker_error.hpp"

namespace rm::docker {

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

}  // namespace rm::docker
