#pragma once
// CRC-32C (Castagnoli), the checksum of every WAL and checkpoint record. Same polynomial as
// Prometheus' WAL, iSCSI and ext4 metadata; `crc32c("123456789") == 0xE3069283`.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rm::telemetry {

// Continues a running checksum: crc32c(b, crc32c(a)) == crc32c(a + b).
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);
inline std::uint32_t crc32c(std::string_view s, std::uint32_t crc = 0) {
  return crc32c(s.data(), s.size(), crc);
}

}  // namespace rm::telemetry
