#pragma once
// Where a program finds the data it ships with (web pages, the Python SDK, libraries), without
// paths compiled into it: relative to its own executable, so a build tree, an installed prefix
// and a prefix copied elsewhere all work from any working directory.
//
// Layout searched: for the executable's directory and each of its ancestors D (nearest first),
// `D/share/remotemedia/<sub>`. An installed `P/bin/remotemedia` finds `P/share/remotemedia/...`;
// a build-tree `build/apps/x/x` finds `build/share/remotemedia/...`.
// An environment variable, when given and set, overrides the search.
#include <filesystem>
#include <optional>
#include <string_view>

namespace rm::core::paths {

// The running program's executable (/proc/self/exe), or empty when it cannot be read.
std::filesystem::path self_exe();

// The nearest existing `ancestor/relative` walking up from the executable's directory
// (at most `max_levels` ancestors), or nullopt.
std::optional<std::filesystem::path> find_upward(const std::filesystem::path& relative, int max_levels = 4);

// `share/remotemedia/<sub>` as described above. With `env_var` set in the environment its value
// is returned as is (even when it does not exist, so the caller's error names the user's path).
std::optional<std::filesystem::path> find_share(std::string_view sub, const char* env_var = nullptr);

}  // namespace rm::core::paths
