#include "telemetry/storage/wal.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "bytes.hpp"
#include "telemetry/wire/crc32c.hpp"

namespace rm::telemetry {

void append_record(std::string& out, RecordType type, std::string_view payload) {
  detail::Writer w(out);
  const auto t = static_cast<std::uint8_t>(type);
  w.u32(static_cast<std::uint32_t>(payload.size() + 1));
  w.u32(crc32c(payload, crc32c(&t, 1)));
  w.u8(t);
  out.append(payload);
}

const char* to_string(ScanStop s) {
  switch (s) {
    case ScanStop::clean:
      return "clean";
    case ScanStop::torn:
      return "torn record (file ends inside it)";
    case ScanStop::bad_checksum:
      return "checksum mismatch";
    case ScanStop::bad_length:
      return "impossible record length";
    case ScanStop::zero_fill:
      return "zero-filled tail";
    case ScanStop::bad_header:
      return "missing or wrong file header";
  }
  return "?";
}

ScanResult scan_records(std::string_view data, std::string_view magic, std::size_t offset,
                        const std::function<bool(RecordType, std::string_view)>& on_record) {
  ScanResult r;
  if (offset == 0) {
    if (data.size() < magic.size() || data.substr(0, magic.size()) != magic) {
      r.stop = data.size() < magic.size() && magic.substr(0, data.size()) == data ? ScanStop::torn
                                                                                  : ScanStop::bad_header;
      return r;
    }
    offset = magic.size();
  }
  r.valid_end = offset;
  std::size_t pos = offset;
  while (pos < data.size()) {
    if (data.size() - pos < kRecordHeader) {
      const bool zeros = std::all_of(data.begin() + static_cast<std::ptrdiff_t>(pos), data.end(),
                                     [](char c) { return c == 0; });
      r.stop = zeros ? ScanStop::zero_fill : ScanStop::torn;
      return r;
    }
    const std::uint32_t len = detail::load_u32(data.data() + pos);
    const std::uint32_t crc = detail::load_u32(data.data() + pos + 4);
    if (len == 0) {
      const bool zeros = std::all_of(data.begin() + static_cast<std::ptrdiff_t>(pos), data.end(),
                                     [](char c) { return c == 0; });
      r.stop = zeros ? ScanStop::zero_fill : ScanStop::bad_length;
      return r;
    }
    if (len > kMaxRecord) {
      r.stop = ScanStop::bad_length;
      return r;
    }
    if (data.size() - pos - 8 < len) {
      r.stop = ScanStop::torn;
      return r;
    }
    const std::string_view body = data.substr(pos + 8, len);
    if (crc32c(body) != crc) {
      r.stop = ScanStop::bad_checksum;
      return r;
    }
    const auto type = static_cast<RecordType>(static_cast<std::uint8_t>(body[0]));
    if (!on_record(type, body.substr(1))) {
      r.stop = ScanStop::bad_length;  // structurally invalid payload behind a valid checksum
      return r;
    }
    pos += 8 + len;
    r.valid_end = pos;
    ++r.records;
  }
  return r;
}

std::string segment_name(std::uint64_t n) {
  return fmt::format("{:08}", n);
}

namespace {
std::optional<std::uint64_t> parse_number(std::string_view s) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return n;
}
}  // namespace

std::vector<std::uint64_t> list_segments(const std::filesystem::path& wal_dir) {
  std::vector<std::uint64_t> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(wal_dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != 8) continue;
    if (auto n = parse_number(name)) out.push_back(*n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint64_t> list_checkpoints(const std::filesystem::path& dir) {
  std::vector<std::uint64_t> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    constexpr std::string_view kPrefix = "checkpoint.";
    if (name.rfind(kPrefix, 0) != 0) continue;
    if (auto n = parse_number(std::string_view(name).substr(kPrefix.size()))) out.push_back(*n);
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

Result<std::string> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    const int err = errno;
    return telemetry_error(err == ENOENT ? TelemetryErrc::not_found : TelemetryErrc::io,
                           fmt::format("cannot open '{}': {}", p.string(), std::strerror(err)));
  }
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return telemetry_error(TelemetryErrc::io,
                           fmt::format("cannot read '{}': {}", p.string(), std::strerror(errno)));
  }
  return s;
}

namespace {
std::atomic<int> g_armed{0};
std::mutex g_fault_mu;
std::multiset<std::string, std::less<>> g_faults;
}  // namespace

void fault_arm(std::string_view point) {
  std::lock_guard lk(g_fault_mu);
  g_faults.emplace(point);
  g_armed.store(static_cast<int>(g_faults.size()));
}
void fault_clear() {
  std::lock_guard lk(g_fault_mu);
  g_faults.clear();
  g_armed.store(0);
}
bool fault_hit(std::string_view point) {
  if (g_armed.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard lk(g_fault_mu);
  auto it = g_faults.find(point);
  if (it == g_faults.end()) return false;
  g_faults.erase(it);
  g_armed.store(static_cast<int>(g_faults.size()));
  return true;
}

}  // namespace rm::telemetry
