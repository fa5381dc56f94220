#pragma once
// DockerNode: a Python node running inside a container, behind the ordinary Node interface
// (runtime/node.hpp). A thin composition of parts that exist on their own:
//
//   DockerClient::connect   the daemon check; unreachable -> "Docker daemon not accessible at
//                           <socket>: <reason>" + the fix, or (fallback policy) a host
//                           ProcessNode with a warning
//   ImageBuilder            the node's image, cached by config hash (build progress logged)
//   NodeContainer           limits, mounts, labels, init, network none, logs, exit watcher
//   ContainerPool           sharing one warm container between sessions (optional)
//   process::RunnerLink     channels, READY handshake, data loop -- the same code ProcessNode uses
//
// Two ways to run the runner:
// - dedicated (default): one container per (session, node); its command is the runner
//   `python3 -m remotemedia.runner --node-type T --node-id N --session-id S --ipc-dir D`, the
//   session's IPC directory is bind-mounted at the same path. Container exit = runner exit;
//   the exit watcher reports it (OOM / code + last log lines) within one poll slice.
// - shared (RM_DOCKER_SHARE=1 or DockerNodeOptions::share): nodes with the same image and
//   config hash share one container held by a process-wide ContainerPool (reference counted,
//   warm for RM_DOCKER_WARM_IDLE_MS after the last session). The container's command is the
//   resident runner server (`python3 -m remotemedia.runner --serve <ipc root>/rms-<pid>-<n>
//   --preload <node type>`, runner_server.hpp): it imports the SDK and the node class once and
//   listens on a unix socket in that directory. Each session connects, asks for a runner and
//   gets a child forked from the warm interpreter -- no exec, no new interpreter; the
//   connection carries the runner's output (logged as the node's) and then its exit status.
//   Mounts are fixed at create time, so a shared container mounts the whole IPC root instead
//   of one session's directory; each session still has its own channels in its own directory.
//   A server that does not answer (socket gone, server dead) fails the session with a message
//   naming the node and the container, and the pool never hands that container out again.
//
// Liveness: the host cannot see pids inside the container's pid namespace; the channels'
// heartbeats (ipc/) detect a runner that is gone, the exit watcher says why.
// abort() (another thread: Ctrl-C, a sibling failed) cancels whatever initialize() waits on.
// close(): rm.stop, then stop the container (SIGTERM, grace, SIGKILL, remove unless kept) or, shared, the
// session's runner (SIGTERM, then SIGKILL, sent by the runner server) and release the pool
// lease; unlinks the channels.
// Threading: like every Node, methods are called from one thread at a time.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <tl/expected.hpp>

#include "docker/container_manager.hpp"
#include "runtime/docker_config.hpp"
#include "runtime/node.hpp"
#include "runtime/node_provider.hpp"

namespace rm::docker {

// What happens to a node's container when its session ends (RM_DOCKER_KEEP, `run
// --keep-containers`). Kept containers are stopped, not removed, so `docker logs`, `docker
// inspect` and `docker ps -a` show them; automatic sweeps leave them alone and `remotemedia
// cleanup` removes them. Dedicated containers only (a shared container outlives sessions).
enum class KeepContainers {
  never,       // default: removed
  on_failure,  // kept when the session failed (this node or another one)
  always,
};

// RM_DOCKER_KEEP: never (also when unset or empty), on-failure or always. Any other value is an
// invalid_argument error naming the variable, the value and the allowed ones: a session with
// docker nodes does not start with it (a typo must not silently remove the containers meant
// for `docker logs`).
Result<KeepContainers> keep_containers_from_env();

// What to do when the daemon is unreachable.
enum class DockerFallback {
  error,    // default: the session fails with the daemon error
  process,  // run the node as a host ProcessNode and log a warning
};

// RM_DOCKER_FALLBACK: error (also when unset or empty) or process. Any other value is an
// invalid_argument error naming the variable, the value and the allowed ones, like RM_DOCKER_KEEP.
Result<DockerFallback> docker_fallback_from_env();

struct DockerNodeOptions {
  std::string node_id;
  std::string node_type;
  std::string session_id;
  boost::json::object params;
  runtime::DockerConfig config;
  std::filesystem::path manifest_dir;  // for the process fallback's node discovery

  // Host side of the read-only mounts: the SDK directory and libremotemedia_ipc.so
  // (RM_PYTHON_SDK_DIR / RM_IPC_LIBRARY, else found next to the executable:
  // process/install_layout.hpp).
  std::filesystem::path sdk_dir;
  std::filesystem::path ipc_library;
  std::string not_found;           // why sdk_dir or ipc_library is empty
  std::filesystem::path ipc_root;  // ipc::ipc_root()
  std::string sdk_container_dir = "/opt/remotemedia/python";
  std::string lib_container_dir = "/opt/remotemedia/lib";

  std::chrono::milliseconds init_timeout{60000};    // RM_DOCKER_INIT_TIMEOUT_MS
  std::chrono::seconds stop_grace{2};               // RM_DOCKER_STOP_GRACE_S
  std::uint64_t data_capacity = 4u << 20;           // RM_PROCESS_CHANNEL_BYTES
  std::uint64_t input_capacity = 0;                 // the manifest's ipc.input_bytes (0: data_capacity)
  std::uint64_t output_capacity = 0;                // ipc.output_bytes
  std::uint64_t max_channel_bytes = 256u << 20;     // RM_IPC_MAX_CHANNEL_BYTES (growth ceiling)
  DockerFallback fallback = DockerFallback::error;  // docker_fallback_from_env() (error if invalid)
  bool share = false;                               // RM_DOCKER_SHARE=1
  KeepContainers keep = KeepContainers::never;      // keep_containers_from_env() (never if invalid)

  static DockerNodeOptions from_env(std::string node_id, std::string node_type, std::string session_id,
                                    boost::json::object params, runtime::DockerConfig config);
};

class DockerNode final : public runtime::Node {
 public:
  explicit DockerNode(DockerNodeOptions options);
  ~DockerNode() override;
  DockerNode(const DockerNode&) = delete;
  DockerNode& operator=(const DockerNode&) = delete;

  runtime::Status initialize() override;
  runtime::Status process(const runtime::DataPtr& input, runtime::Emitter& out) override;
  runtime::Status flush(runtime::Emitter& out) override;
  void close() override;
  // The contract the runner announced with READY (null if none).
  boost::json::value reported_contract() const override;
  // Thread-safe: an image pull or build, a base-image recipe, the container start and the wait
  // for READY return NodeErrorCode::cancelled within a second; close() cleans up as usual.
  void abort(runtime::AbortReason why) override;

  const DockerNodeOptions& options() const;
  bool fell_back_to_process() const;  // the daemon was unreachable and the policy said process
  std::string container_id() const;   // empty when none
  std::string image() const;          // the tag used, empty when none
  bool reused_container() const;      // shared mode: an existing (warm) container was used

 private:
  runtime::Status initialize_steps();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a session's container for this node gets, image aside: limits, env (the node's and the
// runner's), the SDK and IPC library mounts, volumes, labels, and `ipc_dir` mounted at the same
// path. Used by DockerNode and by `remotemedia shell`, so the shell sees exactly a session's
// container.
NodeContainerSpec node_container_spec_for(const DockerNodeOptions& opts, const std::string& image,
                                          const std::string& ipc_dir);
std::map<std::string, std::string> runner_env(const DockerNodeOptions& opts);

// The NodeProvider for NodeKind::docker (registered automatically when rm_docker_node is
// linked). The first call sweeps orphaned containers (owner dead) and stale IPC directories.
tl::expected<std::unique_ptr<runtime::Node>, runtime::NodeError> make_docker_node(
    const runtime::NodeSpec& spec, const runtime::SessionContext& ctx);

// Waits until every shared container this process holds is released and stops them (used at
// exit and by tests); idle containers are otherwise removed after the warm idle time.
void shutdown_shared_containers();

}  // namespace rm::docker
