#include "process/session_dir.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "core/log.hpp"

namespace rm::process {
namespace fs = std::filesystem;
namespace {

std::mutex g_mutex;
std::map<fs::path, int> g_refs;  // leases per directory in this process

// Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. Empty if unreadable.
std::string start_time(long pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(in, line)) return {};
  auto close = line.rfind(')');  // comm may contain spaces and parentheses
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); ++i) {
    if (i == 22) return field;
  }
  return {};
}

}  // namespace

std::string owner_record() {
  auto pid = static_cast<long>(::getpid());
  return fmt::format("{} {}", pid, start_time(pid));
}

bool owner_alive(const std::string& record) {
  std::istringstream in(record);
  long pid = 0;
  std::string start;
  if (!(in >> pid) || pid <= 0) return false;
  in >> start;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  auto now = start_time(pid);
  // A zombie or an unreadable /proc keeps the benefit of the doubt only if the pid exists.
  return start.empty() || now.empty() || now == start;
}

tl::expected<SessionDirLease, SessionDirError> SessionDirLease::acquire(const fs::path& root,
                                                                        const std::string& session_id) {
  SessionDirLease lease;
  lease.dir_ = root / session_id;
  std::lock_guard lock(g_mutex);
  int& refs = g_refs[lease.dir_];
  if (refs == 0) {
    std::error_code ec;
    fs::create_directories(lease.dir_, ec);
    if (ec) {
      g_refs.erase(lease.dir_);
      return tl::unexpected(SessionDirError{
          fmt::format("cannot create session directory {}: {}", lease.dir_.string(), ec.message())});
    }
    std::ofstream out(lease.dir_ / "owner", std::ios::trunc);
    out << owner_record() << '\n';
    if (!out) {
      g_refs.erase(lease.dir_);
      return tl::unexpected(SessionDirError{
          fmt::format("cannot write {}: {}", (lease.dir_ / "owner").string(), std::strerror(errno))});
    }
  }
  ++refs;
  return lease;
}

SessionDirLease::SessionDirLease(SessionDirLease&& other) noexcept : dir_(std::move(other.dir_)) {
  other.dir_.clear();
}

SessionDirLease& SessionDirLease::operator=(SessionDirLease&& other) noexcept {
  if (this != &other) {
    release();
    dir_ = std::move(other.dir_);
    other.dir_.clear();
  }
  return *this;
}

SessionDirLease::~SessionDirLease() {
  release();
}

void SessionDirLease::release() {
  if (dir_.empty()) return;
  std::lock_guard lock(g_mutex);
  auto it = g_refs.find(dir_);
  if (it != g_refs.end() && --it->second <= 0) {
    g_refs.erase(it);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (ec) {
      core::logger("process")->warn("cannot remove session directory {}: {}", dir_.string(), ec.message());
    }
  }
  dir_.clear();
}

SweepResult sweep_stale_sessions(const fs::path& root) {
  SweepResult r;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return r;
  auto log = core::logger("process");
  std::lock_guard lock(g_mutex);
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::error_code ec2;
    if (!entry.is_directory(ec2)) continue;
    if (g_refs.count(entry.path())) {  // ours, in use
      ++r.kept;
      continue;
    }
    std::ifstream in(entry.path() / "owner");
    std::string record;
    if (!in || !std::getline(in, record) || owner_alive(record)) {
      ++r.kept;
      continue;
    }
    fs::remove_all(entry.path(), ec2);
    if (ec2) {
      log->warn("sweep: cannot remove stale session {}: {}", entry.path().string(), ec2.message());
      ++r.kept;
    } else {
      log->info("sweep: removed stale session {} (owner {} is gone)", entry.path().string(), record);
      ++r.removed;
    }
  }
  return r;
}

}  // namespace rm::process
