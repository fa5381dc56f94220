#pragma once
// DockerClient: the Docker Engine API over its unix socket (/var/run/docker.sock or
// DOCKER_HOST=unix://...), spoken through core's HTTP client (core/http_exchange.hpp). No
// docker CLI involved. Calls live in client.cpp (connect, version), images.cpp, containers.cpp;
// the transport in transport.cpp.
//
// Guarantees:
// - Every call opens its own connection, so one client may be used from any number of threads
//   at once (long-polls such as wait() and follow-logs block only their own thread).
// - Every call has a deadline (Options::timeout) and may be cancelled through a CancelToken
//   from another thread; a timed-out or cancelled call returns DockerErrorCode::timeout /
//   cancelled at its deadline or at the cancel (timers, no polling) and leaves nothing behind.
// - API errors come back as values with the daemon's own message.
// - Paths are prefixed with the negotiated API version (/v1.xx), the daemon's ApiVersion capped
//   at the newest version this client was written against.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel_token.hpp"
#include "docker/container_spec.hpp"
#include "docker/docker_error.hpp"

namespace rm::docker {

// Where the daemon listens. Only unix sockets are supported (tcp:// is rejected with a clear
// error: node containers need the local shared memory anyway).
struct Endpoint {
  std::string socket_path = "/var/run/docker.sock";
};
// DOCKER_HOST when set (unix:///path), else the default socket.
Result<Endpoint> endpoint_from_env();

// Set from any thread to abort a running call (copies share the flag).
using CancelToken = core::CancelToken;

struct VersionInfo {
  std::string version;  // engine version, e.g. 20.10.24
  std::string api_version;
  std::string min_api_version;
  std::string os, arch, kernel_version;
};

struct ImageInfo {
  std::string id;
  std::vector<std::string> tags;
  std::map<std::string, std::string> labels;
  std::int64_t size = 0;
  std::string created;
  std::vector<std::string> env;  // Config.Env ("NAME=value"), from inspect only
};

struct ContainerSummary {
  std::string id;
  std::string name;      // without the leading '/'
  std::string image;     // as given at create time (tag or id)
  std::string image_id;  // sha256:...
  std::string state;     // created, running, exited, ...
  std::map<std::string, std::string> labels;
};

struct ContainerInfo {
  std::string id;
  std::string name;
  std::string image;
  std::string status;  // created, running, paused, restarting, removing, exited, dead
  bool running = false;
  bool oom_killed = false;
  int exit_code = 0;
  int pid = 0;
  std::string error;
  std::string started_at, finished_at;
  std::map<std::string, std::string> labels;
  std::int64_t memory_bytes = 0;  // HostConfig.Memory
  std::int64_t memory_swap_bytes = 0;
  std::int64_t nano_cpus = 0;
  std::int64_t shm_bytes = 0;
  std::string network_mode;
};

struct BuildRequest {
  std::string context_tar;  // ustar with a Dockerfile at its root
  std::string tag;
  std::map<std::string, std::string> build_args;
  std::map<std::string, std::string> labels;
  std::string network_mode = "host";
  bool no_cache = false;
  // Each progress line (the "stream" text of the API's JSON messages, without the newline).
  std::function<void(std::string_view line)> on_progress;
};

struct BuildOutcome {
  std::string image_id;
  std::vector<std::string> log_tail;  // last lines of the build log
};

struct ClientOptions {
  std::chrono::milliseconds timeout{30'000};  // per ordinary request
  std::chrono::milliseconds connect_timeout{3'000};
};

enum class LogStream { stdout_stream = 1, stderr_stream = 2 };

class DockerClient {
 public:
  static constexpr std::string_view kMaxApiVersion = "1.43";

  using Options = ClientOptions;

  // Connects, pings and negotiates the API version. Fails with daemon_unreachable and a
  // message "Docker daemon not accessible at <socket>: <reason>" plus how to fix it.
  static Result<DockerClient> connect(Endpoint endpoint = {}, Options options = {});
  // From DOCKER_HOST or the default socket.
  static Result<DockerClient> connect_from_env(Options options = {});

  const Endpoint& endpoint() const { return endpoint_; }
  const std::string& api_version() const { return api_version_; }

  Status ping() const;
  Result<VersionInfo> version() const;

  // --- images
  // nullopt when the image does not exist.
  Result<std::optional<ImageInfo>> image_inspect(std::string_view ref) const;
  // Streams progress; on failure the error (build_failed) names the failing step and has the
  // last log lines. Timeout defaults to 20 minutes (apt and pip run inside).
  Result<BuildOutcome> image_build(const BuildRequest& request,
                                   std::chrono::milliseconds timeout = std::chrono::minutes(20),
                                   const CancelToken* cancel = nullptr) const;
  // POST /images/create: pulls `ref` (name[:tag], tag default latest) from its registry. Each
  // progress message ("Pulling from library/python", "<layer>: Download complete", ...) goes
  // to on_progress once per layer and status (byte counts are not repeated). Fails with the
  // daemon's reason (no registry, unknown image, ...).
  Status image_pull(std::string_view ref, const std::function<void(std::string_view line)>& on_progress = {},
                    std::chrono::milliseconds timeout = std::chrono::minutes(20),
                    const CancelToken* cancel = nullptr) const;
  // Images with every given label (value "" matches any value).
  Result<std::vector<ImageInfo>> image_list(const std::map<std::string, std::string>& labels) const;
  Status image_remove(std::string_view ref, bool force = false) const;

  // --- containers
  Result<std::string> container_create(const ContainerSpec& spec) const;  // returns the id
  Status container_start(std::string_view id) const;
  // Blocks until the container stops (or the deadline/cancel); returns its exit code.
  Result<int> container_wait(std::string_view id, std::chrono::milliseconds timeout,
                             const CancelToken* cancel = nullptr) const;
  Result<ContainerInfo> container_inspect(std::string_view id) const;
  // Log lines of stdout/stderr. With follow, blocks until the container stops (or cancel).
  Status container_logs(std::string_view id, bool follow,
                        const std::function<void(LogStream, std::string_view line)>& on_line,
                        const CancelToken* cancel = nullptr,
                        std::chrono::milliseconds timeout = std::chrono::hours(24 * 365)) const;
  // SIGTERM, then SIGKILL after `grace`. Stopping a stopped container is not an error.
  Status container_stop(std::string_view id, std::chrono::seconds grace) const;
  Status container_kill(std::string_view id, std::string_view signal = "SIGKILL") const;
  // force: also when running; volumes: anonymous volumes too. Missing container: not_found.
  Status container_remove(std::string_view id, bool force = true, bool volumes = true) const;
  // Containers (running and stopped) with every given label ("" matches any value).
  Result<std::vector<ContainerSummary>> container_list(const std::map<std::string, std::string>& labels,
                                                       bool all = true) const;

  // Low level: one request, whole body. Path without the version prefix (added here).
  struct Response {
    int status = 0;
    std::string body;
  };
  Result<Response> request(std::string_view method, std::string_view path, std::string_view body = {},
                           std::string_view content_type = "application/json") const;
  // Low level streaming: the body is handed to on_body piece by piece (return false to stop).
  Result<int> request_stream(std::string_view method, std::string_view path, std::string_view body,
                             std::string_view content_type,
                             const std::function<bool(std::string_view)>& on_body,
                             std::chrono::milliseconds timeout, const CancelToken* cancel) const;

 private:
  DockerClient(Endpoint endpoint, Options options) : endpoint_(std::move(endpoint)), options_(options) {}
  std::string versioned(std::string_view path) const;

  Endpoint endpoint_;
  Options options_;
  std::string api_version_;  // empty until negotiated: paths are unversioned
};

// The message for an unreachable daemon: names the socket and the reason, says what to do.
std::string daemon_unreachable_message(const std::string& socket_path, std::string_view reason);

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view text);

}  // namespace rm::docker
