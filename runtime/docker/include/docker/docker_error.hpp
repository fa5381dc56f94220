#pragma once
// Errors of the docker module. Every error carries a message a user can act on: it names the
// socket, image, container or node, and what to do.
#include <string>

#include <tl/expected.hpp>

namespace rm::docker {

enum class DockerErrorCode {
  daemon_unreachable,  // connect to the socket failed (daemon down, wrong path, permissions)
  api_error,           // the Engine API answered with an error status (message from the API)
  not_found,           // 404: no such image / container
  conflict,            // 409: name in use, container running, image in use
  protocol,            // malformed HTTP or JSON from the daemon
  timeout,             // a deadline passed
  cancelled,           // the caller cancelled a long-running request
  build_failed,        // an image build failed (message has the failing step and last lines)
  container_failed,    // a container exited unexpectedly (message has the reason)
  invalid_argument,    // bad input from the caller (empty image name, bad DOCKER_HOST, ...)
  io,                  // local I/O (reading a file for a build context, ...)
};

std::string_view to_string(DockerErrorCode code);

struct DockerError {
  DockerErrorCode code = DockerErrorCode::api_error;
  std::string message;
  int http_status = 0;  // the API's status when the daemon answered, else 0
};

template <typename T>
using Result = tl::expected<T, DockerError>;
using Status = tl::expected<void, DockerError>;

inline tl::unexpected<DockerError> docker_error(DockerErrorCode code, std::string message,
                                                int http_status = 0) {
  return tl::unexpected(DockerError{code, std::move(message), http_status});
}

}  // namespace rm::docker
