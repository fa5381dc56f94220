#pragma once
// File helpers of the store's writer and checkpoint writer (private to telemetry/src).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "telemetry/storage/store.hpp"
#include "telemetry/storage/wal.hpp"

namespace rm::telemetry::detail {

namespace fs = std::filesystem;

inline StoreError io_error(std::string what) {
  return StoreError{StoreErrorCode::io, fmt::format("{}: {}", what, std::strerror(errno))};
}

// Writes all of `data`, retrying short writes; `fault` simulates a short write + EIO.
inline bool write_all(int fd, std::string_view data, std::string_view fault) {
  if (fault_hit(fault)) {
    if (::write(fd, data.data(), data.size() / 2) < 0) return false;
    errno = EIO;
    return false;
  }
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Writes all of `data` at offset `off`, retrying short writes; `fault` as in write_all.
inline bool write_all_at(int fd, std::string_view data, std::size_t off, std::string_view fault) {
  if (fault_hit(fault)) {
    if (::pwrite(fd, data.data(), data.size() / 2, static_cast<off_t>(off)) < 0) return false;
    errno = EIO;
    return false;
  }
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Writes a checkpoint file in pieces, starting writeback of each piece right away and waiting
// for the one before it, so at most two pieces (8 MB) are dirty at any time instead of the
// whole file landing at once on the disk the WAL's fdatasync is waiting for.
inline bool write_paced(int fd, std::string_view data) {
  constexpr std::size_t kPiece = 4U << 20;
  off_t off = 0, prev_off = 0;
  std::size_t prev_len = 0;
  while (!data.empty()) {
    const std::size_t n = std::min(kPiece, data.size());
    if (!write_all(fd, data.substr(0, n), "checkpoint.short_write")) return false;
    (void)::sync_file_range(fd, off, static_cast<off_t>(n), SYNC_FILE_RANGE_WRITE);
    if (prev_len > 0) {
      (void)::sync_file_range(
          fd, prev_off, static_cast<off_t>(prev_len),
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    }
    prev_off = off;
    prev_len = n;
    off += static_cast<off_t>(n);
    data.remove_prefix(n);
  }
  return true;
}

inline void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Creates the segment file `path` (truncating it): the header, then `bytes` in all reserved as
// `mode` says, file and directory synced, so writing into it later changes no metadata that
// an fdatasync would have to commit (with Preallocate::zeros; fallocate leaves unwritten
// extents the file system converts on first write). Returns the open descriptor.
[[nodiscard]] tl::expected<int, StoreError> create_segment_file(const fs::path& path, std::size_t bytes,
                                                                Preallocate mode);

}  // namespace rm::telemetry::detail
