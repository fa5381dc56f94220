#include "telemetry/storage/store_meta.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "store_io.hpp"
#include "telemetry/storage/wal.hpp"

namespace rm::telemetry {

namespace fs = std::filesystem;

Status write_store_meta(const fs::path& dir, const StoreMeta& meta) {
  if (read_store_meta(dir) == meta) return {};
  const std::string text =
      fmt::format("max_entries {}\nretention_ns {}\n", meta.max_entries, meta.retention_ns);
  const fs::path final_path = dir / kStoreMetaFile;
  const fs::path tmp = final_path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return telemetry_error(TelemetryErrc::io,
                           fmt::format("cannot create '{}': {}", tmp.string(), std::strerror(errno)));
  const bool ok = detail::write_all(fd, text, "store_meta.write") && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    const auto msg =
        fmt::format("cannot write '{}': {}", final_path.string(), std::strerror(ok ? errno : err));
    ::unlink(tmp.c_str());
    return telemetry_error(TelemetryErrc::io, msg);
  }
  detail::fsync_dir(dir);
  return {};
}

std::optional<StoreMeta> read_store_meta(const fs::path& dir) {
  auto text = read_file(dir / kStoreMetaFile);
  if (!text) return std::nullopt;
  StoreMeta m;
  bool have_max = false;
  std::string_view rest(*text);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    const auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, sp), value = line.substr(sp + 1);
    auto parse = [&](auto& out) {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
      return ec == std::errc() && p == value.data() + value.size();
    };
    if (key == "max_entries") {
      if (!parse(m.max_entries) || m.max_entries == 0) return std::nullopt;
      have_max = true;
    } else if (key == "retention_ns") {
      if (!parse(m.retention_ns) || m.retention_ns < 0) return std::nullopt;
    }  // unknown keys: written by a newer store, ignored
  }
  if (!have_max) return std::nullopt;
  return m;
}

}  // namespace rm::telemetry
