#pragma once
// <collector dir>/STORE: the settings a reader needs to rebuild the collector's index the way
// the collector does (docs/storage-format.md). Written by the store at open, atomically (a
// temporary file, fsync, rename, directory fsync), read by the gateway's follower, so the
// gateway needs no copy of MAX_ENTRIES or RETENTION.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "telemetry/error.hpp"

namespace rm::telemetry {

struct StoreMeta {
  std::size_t max_entries = 0;
  std::int64_t retention_ns = 0;  // 0 = no retention by time
  bool operator==(const StoreMeta&) const = default;
};

inline constexpr const char* kStoreMetaFile = "STORE";

// Errors: io, naming the file and errno's text.
[[nodiscard]] Status write_store_meta(const std::filesystem::path& dir, const StoreMeta& meta);
// nullopt when the file is missing (a store written before it existed) or malformed.
[[nodiscard]] std::optional<StoreMeta> read_store_meta(const std::filesystem::path& dir);

}  // namespace rm::telemetry
