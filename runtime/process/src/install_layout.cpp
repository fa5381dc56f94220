#include "process/install_layout.hpp"

#include <unistd.h>

#include <array>
#include <system_error>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/paths.hpp"

#ifndef RM_INSTALL_LIBDIR
#define RM_INSTALL_LIBDIR "lib"
#endif

namespace rm::process {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSdkRel = "share/remotemedia/python";
constexpr const char* kIpcName = "libremotemedia_ipc.so";
const std::array<fs::path, 2> kSystemPrefixes = {"/usr/local", "/usr"};

bool present(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// The prefix whose share/remotemedia/python is next to the executable, if any.
std::optional<fs::path> exe_prefix() {
  auto sdk = core::paths::find_share("python");
  if (!sdk) return std::nullopt;
  return sdk->parent_path().parent_path().parent_path();
}

}  // namespace

std::string install_libdir() {
  return RM_INSTALL_LIBDIR;
}

std::string find_program(const std::string& prog) {
  if (prog.find('/') != std::string::npos) return ::access(prog.c_str(), X_OK) == 0 ? prog : "";
  const auto path = core::env_string("PATH", "/usr/local/bin:/usr/bin:/bin");
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const auto cand = fs::path(path.substr(start, end - start)) / prog;
    if (::access(cand.c_str(), X_OK) == 0) return cand.string();
    start = end + 1;
  }
  return "";
}

tl::expected<fs::path, std::string> find_python_sdk() {
  if (auto e = core::env("RM_PYTHON_SDK_DIR"); e && !e->empty()) return fs::path(*e);
  if (auto p = exe_prefix()) return *p / kSdkRel;
  std::string looked;
  for (const auto& p : kSystemPrefixes) {
    if (present(p / kSdkRel)) return p / kSdkRel;
    looked += ", " + (p / kSdkRel).string();
  }
  return tl::unexpected(
      fmt::format("the Python SDK was not found (looked for {} above {}{}); install the runtime "
                  "(cmake --install) or set RM_PYTHON_SDK_DIR",
                  kSdkRel, core::paths::self_exe().parent_path().string(), looked));
}

tl::expected<fs::path, std::string> find_ipc_library() {
  if (auto e = core::env("RM_IPC_LIBRARY"); e && !e->empty()) return fs::path(*e);
  const auto rel = fs::path(install_libdir()) / kIpcName;
  // Next to the SDK found for this executable, so the two come from the same prefix.
  if (auto p = exe_prefix(); p && present(*p / rel)) return *p / rel;
  if (auto up = core::paths::find_upward(rel)) return *up;
  std::string looked;
  for (const auto& p : kSystemPrefixes) {
    if (present(p / rel)) return p / rel;
    looked += ", " + (p / rel).string();
  }
  return tl::unexpected(
      fmt::format("{} was not found (looked for {} above {}{}); install the runtime (cmake --install) or "
                  "set RM_IPC_LIBRARY",
                  kIpcName, rel.string(), core::paths::self_exe().parent_path().string(), looked));
}

}  // namespace rm::process
