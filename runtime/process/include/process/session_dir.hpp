#pragma once
// Session IPC directories and their owner: who removes them, and the sweep of stale ones.
//
// A session's channels live in <ipc_root>/<session_id>/ (ipc/channel_names.hpp). Every node of
// a session that runs outside the host process (process and docker nodes) holds a
// SessionDirLease while it has channels there. The first lease in this process creates the
// directory and writes the file `owner` ("<pid> <start_time>\n": pid and its start time in
// clock ticks since boot, from /proc/<pid>/stat, so a reused pid is not mistaken for the
// owner); the last lease to go removes everything in the directory and the directory itself.
// Leases are reference counted per directory inside this process and are thread-safe.
//
// sweep_stale_sessions() removes every session directory under a root whose owner process is
// gone (killed with SIGKILL, crashed): call it at start-up. Directories without an owner file
// are left alone (they belong to something that does not use leases).
#include <cstddef>
#include <filesystem>
#include <string>

#include <tl/expected.hpp>

namespace rm::process {

struct SessionDirError {
  std::string message;  // names the directory and the errno text
};

class SessionDirLease {
 public:
  // Acquires <root>/<session_id>, creating it and its owner file if this is the first lease.
  static tl::expected<SessionDirLease, SessionDirError> acquire(const std::filesystem::path& root,
                                                                const std::string& session_id);
  SessionDirLease() = default;
  SessionDirLease(SessionDirLease&& other) noexcept;
  SessionDirLease& operator=(SessionDirLease&& other) noexcept;
  SessionDirLease(const SessionDirLease&) = delete;
  SessionDirLease& operator=(const SessionDirLease&) = delete;
  ~SessionDirLease();

  const std::filesystem::path& path() const { return dir_; }
  // Gives the lease back now (idempotent); the last one removes the directory.
  void release();

 private:
  std::filesystem::path dir_;
};

struct SweepResult {
  std::size_t removed = 0;  // stale session directories removed
  std::size_t kept = 0;     // directories whose owner is alive or unknown
};

// Removes session directories under `root` whose owner process is dead. A missing root is
// nothing to do. Never throws; problems are logged and the directory is kept.
SweepResult sweep_stale_sessions(const std::filesystem::path& root);

// The owner line for this process ("<pid> <start_time>").
std::string owner_record();
// True if the process named by an owner line is still running (same pid and start time).
bool owner_alive(const std::string& record);

}  // namespace rm::process
