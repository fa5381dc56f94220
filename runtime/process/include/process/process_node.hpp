#pragma once
// ProcessNode: a Python node running in its own host process, behind the ordinary Node
// interface (runtime/node.hpp), so a pipeline mixes native and Python nodes freely.
//
// initialize(): leases the session's IPC directory, creates the node's three channels
// (<session>_<node>_input/_output/_control), starts `python -m remotemedia.runner` with no
// shell (fork + exec, PR_SET_PDEATHSIG so the child dies with the host), params as JSON in the
// environment (RM_NODE_PARAMS), and waits for READY within init_timeout while logging the
// runner's progress messages. The child's stdout/stderr are forwarded line by line into the
// "process" logger, prefixed with the node id.
// process(): writes the input envelope straight into the input ring (one copy, from the
// RuntimeData into shared memory), then collects the outputs until the runner closes that
// input's batch. Outputs are copied out of the ring (the ring delivers one record at a time,
// so a record cannot stay borrowed while the next one is read).
// A supervisor thread waits on the child (pidfd) and records its exit; any call that is waiting
// on the child notices within one poll slice (<= 20 ms) and fails with remote_failed naming
// the exit code or signal and the last stderr lines.
// close(): asks the runner to stop (control channel, then SIGTERM, then SIGKILL after
// stop_grace), reaps it, closes and unlinks the channels and releases the directory lease --
// on every path, also after a failed initialize.
// Threading: like every Node, methods are called from one thread at a time.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <tl/expected.hpp>

#include "runtime/node.hpp"
#include "runtime/node_provider.hpp"

namespace rm::process {

struct ProcessNodeOptions {
  std::string node_id;
  std::string node_type;  // the Python class name
  std::string session_id;
  boost::json::object params;
  // Interpreter: $REMOTEMEDIA_PYTHON, else "python3" (looked up on PATH).
  std::string python;
  // Prepended to PYTHONPATH: $RM_PYTHON_SDK_DIR, else the installed or build-tree SDK found
  // relative to the executable (process/install_layout.hpp).
  std::filesystem::path sdk_dir;
  // Passed as RM_IPC_LIBRARY: $RM_IPC_LIBRARY, else found the same way.
  std::filesystem::path ipc_library;
  // Why sdk_dir or ipc_library is empty (from_env); starting the node reports it.
  std::string not_found;
  // Root of session directories: ipc::ipc_root() ($RM_IPC_DIR or /dev/shm/remotemedia).
  std::filesystem::path ipc_root;
  // Extra directories for node discovery, put in front of $REMOTEMEDIA_NODE_PATH.
  std::vector<std::filesystem::path> node_path;
  // $RM_PROCESS_INIT_TIMEOUT_MS, default 30 s.
  std::chrono::milliseconds init_timeout{30000};
  // How long close() waits after the stop request and after SIGTERM.
  std::chrono::milliseconds stop_grace{2000};
  std::uint64_t data_capacity = 4u << 20;  // bytes per data ring ($RM_PROCESS_CHANNEL_BYTES)
  // Per node (the manifest's ipc: block): input ring (host -> node) and output ring; 0 = data_capacity.
  std::uint64_t input_capacity = 0;
  std::uint64_t output_capacity = 0;
  std::uint64_t control_capacity = 64u << 10;
  // input_capacity 0: rings grow with the data up to this ($RM_IPC_MAX_CHANNEL_BYTES, 256 MiB).
  std::uint64_t max_channel_bytes = 256u << 20;

  // Fills every unset field from the environment and built-in defaults.
  static ProcessNodeOptions from_env(std::string node_id, std::string node_type, std::string session_id,
                                     boost::json::object params);
};

class ProcessNode final : public runtime::Node {
 public:
  explicit ProcessNode(ProcessNodeOptions options);
  ~ProcessNode() override;
  ProcessNode(const ProcessNode&) = delete;
  ProcessNode& operator=(const ProcessNode&) = delete;

  runtime::Status initialize() override;
  runtime::Status process(const runtime::DataPtr& input, runtime::Emitter& out) override;
  runtime::Status flush(runtime::Emitter& out) override;
  void close() override;
  boost::json::value reported_contract() const override { return announced_contract(); }
  // Thread-safe: a blocked initialize() (READY never comes), process() or flush() returns
  // NodeErrorCode::cancelled within 20 ms; close() then stops the child as usual.
  void abort(runtime::AbortReason why) override;

  // The contract the runner announced with READY (null if none), for checks and `nodes`.
  const boost::json::value& announced_contract() const;
  // The child's pid while it runs, else 0.
  int pid() const;
  const ProcessNodeOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The NodeProvider for NodeKind::process (registered automatically when rm_process is linked).
tl::expected<std::unique_ptr<runtime::Node>, runtime::NodeError> make_process_node(
    const runtime::NodeSpec& spec, const runtime::SessionContext& ctx);

}  // namespace rm::process
