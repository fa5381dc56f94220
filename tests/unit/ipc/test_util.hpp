#pragma once
// Helpers shared by the ipc tests: a private directory per test under /dev/shm, checksums.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "support/temp_dir.hpp"

namespace rm::ipc::test {

// A private directory per test under /dev/shm (the system temp directory when there is none).
struct TempDir : rm::test::TempDir {
  TempDir() : rm::test::TempDir("rm-ipc-test", rm::test::TempDir::shm()) {}
};

// FNV-1a, to checksum payloads end to end.
inline std::uint64_t fnv1a(const std::byte* p, std::size_t n) {
  std::uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<std::uint8_t>(p[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

// Deterministic payload for message i: size in [16, max], bytes derived from i.
inline std::size_t message_size(std::uint64_t i, std::size_t max) {
  std::uint64_t x = i * 0x9E3779B97F4A7C15ULL;
  x ^= x >> 29;
  return 16 + static_cast<std::size_t>(x % (max - 15));
}
inline void fill_message(std::byte* p, std::size_t n, std::uint64_t i) {
  for (std::size_t k = 16; k < n; ++k) p[k] = static_cast<std::byte>((i * 31 + k * 7) & 0xFF);
  std::uint64_t h = fnv1a(p + 16, n - 16);
  std::memcpy(p, &i, 8);
  std::memcpy(p + 8, &h, 8);
}
// Returns true if the message carries sequence `i` and an intact checksum.
inline bool check_message(const std::byte* p, std::size_t n, std::uint64_t i) {
  if (n < 16) return false;
  std::uint64_t seq = 0, h = 0;
  std::memcpy(&seq, p, 8);
  std::memcpy(&h, p + 8, 8);
  return seq == i && h == fnv1a(p + 16, n - 16);
}

}  // namespace rm::ipc::test
