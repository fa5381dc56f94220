#pragma once
// RunnerLink: the host side of one Python runner (`python -m remotemedia.runner`), wherever the
// runner runs -- a host child process (ProcessNode) or a process inside a container
// (DockerNode). It owns everything that is the same in both cases:
//
//   open()        leases the session's IPC directory (session_dir.hpp) and creates the node's
//                 three channels <session>_<node>_input / _output / _control in it;
//   wait_ready()  the READY handshake: logs rm.progress, fails on rm.error, returns on rm.ready
//                 (keeping the announced contract), times out naming the last progress;
//   process()     one input envelope into the input ring, outputs collected until rm.batch_end;
//                 an input larger than the input ring first grows both rings (see grow_channels);
//   flush()       end-of-stream in, outputs collected until the runner's end-of-stream;
//   request_stop()  rm.stop on the control channel (best effort);
//   cancel()      from any thread: a waiting wait_ready()/process()/flush() returns
//                 NodeErrorCode::cancelled within one slice (20 ms), and so does every later call;
//   close()       closes and unlinks the channels and releases the lease (idempotent).
//
// Liveness is the owner's business: it hands in a Peer telling whether the runner is known to
// be gone and why (exit code, OOM, last log lines). Independently of that the channels report
// peer_gone when the runner closed them or its heartbeat stopped -- the heartbeat is what works
// across pid namespaces, where the host cannot see the runner's pid.
// Threading: like a Node, used from one thread at a time; Peer callbacks may be called from it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "runtime/node.hpp"

namespace rm::process {

struct RunnerLinkOptions {
  std::string node_id;
  std::string node_type;
  std::string session_id;
  std::filesystem::path ipc_root;
  std::uint64_t data_capacity = 4u << 20;  // input ring (host -> node): the node's ipc.input_bytes
  std::uint64_t output_capacity = 0;       // output ring (node -> host), 0 = data_capacity
  std::uint64_t control_capacity = 64u << 10;
  // What runs the node, for messages: "python process", "container", ...
  std::string runner_name = "python process";
  // Channel sizes derived from the data (docs/python-nodes.md "Channel sizes"): when an input
  // does not fit the input ring, the host makes rings of channel_bytes_for(size) (input, and the
  // output too unless fixed_output), moves the runner onto them in-band ("rm.channels_moved",
  // acknowledged before anything else is sent) and retires the old ones. Off when the manifest
  // sets ipc.input_bytes: then a value too large stays an error naming that setting.
  bool grow_channels = false;
  bool fixed_output = false;                     // the manifest set ipc.output_bytes
  std::uint64_t max_channel_bytes = 256u << 20;  // ceiling of grown rings ($RM_IPC_MAX_CHANNEL_BYTES)
};

// Ring size for values of `value_bytes`: two records of that size (so a producer can fill the
// next while the consumer still reads one), rounded up to a power of two, at least `floor`.
std::uint64_t channel_bytes_for(std::uint64_t value_bytes, std::uint64_t floor);

class RunnerLink {
 public:
  struct Peer {
    // True once the runner is known to have ended (polled every 20 ms while waiting).
    std::function<bool()> exited;
    // The error to report when the runner is gone; `during` is e.g. "while processing".
    std::function<runtime::NodeError(std::string_view during)> gone;
  };

  explicit RunnerLink(RunnerLinkOptions options);
  ~RunnerLink();
  RunnerLink(const RunnerLink&) = delete;
  RunnerLink& operator=(const RunnerLink&) = delete;

  runtime::Status open();
  // The session's IPC directory (valid after open()).
  const std::filesystem::path& dir() const;
  void set_peer(Peer peer);

  // `timeout_hint` is appended to the timeout error (what to raise).
  runtime::Status wait_ready(std::chrono::milliseconds timeout, std::string_view timeout_hint);
  runtime::Status process(const runtime::DataPtr& input, runtime::Emitter& out);
  runtime::Status flush(runtime::Emitter& out);
  void request_stop();
  void cancel();  // thread-safe
  void close();

  bool is_open() const;
  const boost::json::value& contract() const;
  const RunnerLinkOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rm::process
