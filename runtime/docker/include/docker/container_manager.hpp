#pragma once
// Node containers: one running container for a (session, node) with the node's limits, the
// session's IPC directory and the SDK mounted, labels for sweeps, its logs forwarded into the
// host log and an exit watcher.
//
// Lifecycle and threading:
// - NodeContainer::start() creates and starts the container and two watcher threads (logs,
//   exit). It returns once the container runs; it does not wait for the runner's READY (that
//   is the IPC handshake of the node that owns this container).
// - An exit that nobody asked for is detected as soon as the daemon reports it (a long-poll on
//   /containers/{id}/wait, no polling interval), classified (OOM / exit code / signal) into an
//   ExitReport and handed to on_exit on the watcher thread. on_exit must not call stop().
// - stop() (and the destructor) sends SIGTERM, waits up to the grace period, then SIGKILL, and
//   removes the container and its owned_dir. Idempotent. After stop() returns no callback runs
//   any more.
// - Labels: remotemedia.session, remotemedia.node, remotemedia.owner (host pid),
//   remotemedia.owner_start (its start time in clock ticks since boot), remotemedia.boot (kernel
//   boot id), remotemedia.config_hash, remotemedia.managed=1. A
//   container whose owner process is gone (pid dead, pid reused by a later process, or
//   another boot) is an orphan that sweep_orphans() removes.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "docker/client.hpp"
#include "runtime/docker_config.hpp"

namespace rm::docker {

inline constexpr std::string_view kLabelSession = "remotemedia.session";
inline constexpr std::string_view kLabelOwner = "remotemedia.owner";
inline constexpr std::string_view kLabelOwnerStart = "remotemedia.owner_start";
inline constexpr std::string_view kLabelBoot = "remotemedia.boot";
inline constexpr std::string_view kLabelConfigHash = "remotemedia.config_hash";
// Set on containers that may be kept after their session (RM_DOCKER_KEEP): automatic sweeps
// leave them once stopped; `remotemedia cleanup` removes them.
inline constexpr std::string_view kLabelKeep = "remotemedia.keep";

struct NodeContainerSpec {
  std::string session_id;
  std::string node_id;
  std::string image;             // from ImageBuilder::ensure_image
  runtime::DockerConfig config;  // limits, env, volumes, shm, gpus

  // The session's IPC directory on the host; mounted read-write at ipc_container_dir (default:
  // the same path, so channel paths mean the same on both sides). Empty: no IPC mount.
  std::string ipc_host_dir;
  std::string ipc_container_dir;
  // The Python SDK (the directory holding the `remotemedia` package), mounted read-only.
  std::string sdk_host_dir;
  std::string sdk_container_dir = "/opt/remotemedia/python";
  std::vector<BindMount> extra_mounts;  // e.g. the IPC C library, read-only

  std::vector<std::string> command;              // e.g. {"python3", "-m", "remotemedia.runner", ...}
  std::map<std::string, std::string> extra_env;  // added to config.env (wins on conflicts)
  std::string working_dir;

  // A host directory that belongs to this container (shared containers: the runner server's
  // control directory); stop() removes it after the container. Empty: none.
  std::string owned_dir;

  bool interactive = false, tty = false;  // see ContainerSpec (`remotemedia shell`)
  std::size_t log_tail_lines = 50;        // kept for error messages
  std::chrono::seconds stop_grace{5};
  bool keep = false;  // labels the container kLabelKeep (it may outlive its session)
};

struct ExitReport {
  std::string node_id;
  std::string container_id;
  int exit_code = 0;
  bool oom_killed = false;
  bool requested = false;  // the exit followed stop(): not a failure
  std::string message;     // "node <id>: ..." ready for the user (empty when requested)
  std::vector<std::string> last_lines;
};

// Builds the ExitReport message (pure; unit-tested): OOM or 137 -> "node <id>: container
// killed, memory limit <N> MB exceeded"; other codes with the last log lines.
std::string classify_exit(std::string_view node_id, int exit_code, bool oom_killed, std::uint64_t memory_mb,
                          const std::vector<std::string>& last_lines);

class NodeContainer {
 public:
  struct Callbacks {
    // Each log line; default: the "docker" logger at info, "[<node>] line" (stderr at warn).
    std::function<void(LogStream, std::string_view line)> on_log;
    std::function<void(const ExitReport&)> on_exit;  // unrequested exits only
  };

  // A cancel that fires while the container is being created removes it before it is started
  // and returns DockerErrorCode::cancelled (the create is logged at debug level).
  static Result<std::unique_ptr<NodeContainer>> start(const DockerClient& client, NodeContainerSpec spec,
                                                      Callbacks callbacks = {},
                                                      const CancelToken* cancel = nullptr);
  ~NodeContainer();
  NodeContainer(const NodeContainer&) = delete;
  NodeContainer& operator=(const NodeContainer&) = delete;

  const std::string& id() const;
  const std::string& name() const;
  const NodeContainerSpec& spec() const;

  // nullopt while running.
  std::optional<ExitReport> exit_report() const;
  // Blocks until the container has exited (or timeout: nullopt).
  std::optional<ExitReport> wait_exit(std::chrono::milliseconds timeout) const;
  std::vector<std::string> last_log_lines() const;

  // SIGTERM, grace (spec.stop_grace unless given), SIGKILL, remove (unless !remove: the
  // stopped container stays for docker logs / inspect). Idempotent.
  Status stop(bool remove = true, std::optional<std::chrono::seconds> grace = std::nullopt);

  struct State;

 private:
  explicit NodeContainer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// The ContainerSpec for a node (pure: labels, limits, mounts); used by start(), unit-tested.
ContainerSpec node_container_spec(const NodeContainerSpec& spec);

// Identifies a process across pid reuse and reboots.
struct OwnerId {
  long pid = 0;
  std::uint64_t start_ticks = 0;  // /proc/<pid>/stat field 22
  std::string boot_id;            // /proc/sys/kernel/random/boot_id
  static OwnerId self();
  static OwnerId from_labels(const std::map<std::string, std::string>& labels);
  // Same boot, the pid exists and started at the same time.
  bool alive() const;
  bool operator==(const OwnerId&) const = default;
};

struct SweepReport {
  std::vector<std::string> removed;  // container names
  std::vector<std::string> kept;     // owned by live processes
  std::vector<std::string> errors;
};
// Removes remotemedia containers whose owner process is dead, except stopped containers that
// were kept on purpose (kLabelKeep) unless include_kept. With include_live also those of live
// owners other than this process (for `remotemedia cleanup --all`).
Result<SweepReport> sweep_orphans(const DockerClient& client, bool include_live = false,
                                  bool include_kept = false);

}  // namespace rm::docker
