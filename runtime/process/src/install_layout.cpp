#include "process/install_layout.hpp"

#include <unistd.h>

#include <array>
#include <climits>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "core/config.hpp"

#ifndef RM_INSTALL_LIBDIR
#define RM_INSTALL_LIBDIR "lib"
#endif

namespace rm::process {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSdkRel = "share/remotemedia/python";
constexpr const char* kIpcName = "libremotemedia_ipc.so";

fs::path self_exe() {
  std::array<char, PATH_MAX> buf{};
  const auto n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return {};
  return fs::path(std::string(buf.data(), static_cast<std::size_t>(n)));
}

// The prefix (root holding share/remotemedia/python) the SDK was found under, if any.
tl::expected<fs::path, std::string> sdk_root() {
  auto sdk = find_under_prefixes(self_exe(), kSdkRel);
  if (!sdk) return tl::unexpected(sdk.error());
  return sdk->parent_path().parent_path().parent_path();
}

}  // namespace

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

std::string install_libdir() { return RM_INSTALL_LIBDIR; }

tl::expected<fs::path, std::string> find_under_prefixes(const fs::path& exe, const fs::path& rel) {
  std::vector<fs::path> roots;
  if (!exe.empty()) {
    for (auto d = exe.parent_path(); !d.empty(); d = d.parent_path()) {
      roots.push_back(d);
      if (d == d.root_path()) break;
    }
  }
  roots.emplace_back("/usr/local");
  roots.emplace_back("/usr");
  std::string looked;
  for (const auto& r : roots) {
    std::error_code ec;
    const auto cand = r / rel;
    if (fs::exists(cand, ec)) return cand;
    looked += (looked.empty() ? "" : ", ") + cand.string();
  }
  return tl::unexpected(fmt::format("{} not found (looked in {})", rel.string(), looked));
}

tl::expected<fs::path, std::string> find_python_sdk() {
  if (auto e = core::env("RM_PYTHON_SDK_DIR"); e && !e->empty()) return fs::path(*e);
  auto sdk = find_under_prefixes(self_exe(), kSdkRel);
  if (!sdk) {
    return tl::unexpected("the Python SDK was not found: " + sdk.error() +
                          "; install the runtime (cmake --install) or set RM_PYTHON_SDK_DIR");
  }
  return *sdk;
}

tl::expected<fs::path, std::string> find_ipc_library() {
  if (auto e = core::env("RM_IPC_LIBRARY"); e && !e->empty()) return fs::path(*e);
  const auto rel = fs::path(install_libdir()) / kIpcName;
  // Next to the SDK that was found first, so the two always come from the same prefix.
  if (auto root = sdk_root()) {
    std::error_code ec;
    if (fs::exists(*root / rel, ec)) return *root / rel;
  }
  auto lib = find_under_prefixes(self_exe(), rel);
  if (!lib) {
    return tl::unexpected(fmt::format("{} was not found: {}; install the runtime (cmake --install) "
                                      "or set RM_IPC_LIBRARY", kIpcName, lib.error()));
  }
  return *lib;
}

}  // namespace rm::process
