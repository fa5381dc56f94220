#pragma once
// Sizes and ages as people read them, for `remotemedia images ls` (pure; unit-tested).
#include <chrono>
#include <cstdint>
#include <string>

namespace rm::docker {

// Decimal units with three significant digits, like `docker images`: 512 B, 1.5 kB, 245 MB.
std::string human_size(std::int64_t bytes);
// An API "Created" value (unix seconds as text) relative to now: "just now", "5 minutes ago",
// "3 hours ago", "2 days ago", "4 months ago", "2 years ago"; other text is returned as is.
std::string human_age(const std::string& created_unix_seconds, std::chrono::system_clock::time_point now);

}  // namespace rm::docker
