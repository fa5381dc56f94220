#include "core/paths.hpp"

#include <cstdlib>
#include <system_error>

namespace rm::core::paths {

namespace fs = std::filesystem;

fs::path self_exe() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path{} : p;
}

std::optional<fs::path> find_upward(const fs::path& relative, int max_levels) {
  fs::path exe = self_exe();
  if (exe.empty()) return std::nullopt;
  fs::path dir = exe.parent_path();
  for (int level = 0; level <= max_levels && !dir.empty(); ++level) {
    std::error_code ec;
    fs::path candidate = dir / relative;
    if (fs::exists(candidate, ec)) return candidate;
    if (dir == dir.root_path()) break;
    dir = dir.parent_path();
  }
  return std::nullopt;
}

std::optional<fs::path> find_share(std::string_view sub, const char* env_var) {
  if (env_var != nullptr) {
    if (const char* v = std::getenv(env_var); v != nullptr && *v != '\0') return fs::path(v);
  }
  return find_upward(fs::path("share") / "remotemedia" / fs::path(sub));
}

}  // namespace rm::core::paths
