#pragma once
// Where the files a Python host-process node needs are: the Python SDK (remotemedia package and
// its runner) and libremotemedia_ipc.so. Looked up, in order:
//   1. the environment: RM_PYTHON_SDK_DIR / RM_IPC_LIBRARY (overrides, taken as given);
//   2. relative to the running executable (core/paths.hpp find_share): the nearest ancestor R of
//      it holding share/remotemedia/python gives R/share/remotemedia/python and
//      R/<libdir>/libremotemedia_ipc.so. An installed prefix (P/bin/remotemedia) and a build tree
//      (<build>/apps/remotemedia/remotemedia; the build tree mirrors the install layout) both
//      match, wherever they were moved;
//   3. the system prefixes /usr/local and /usr (an application embedding the runtime that lives
//      outside the prefix, e.g. next to the installed .deb).
// Nothing refers to the source or build tree.
#include <filesystem>
#include <string>

#include <tl/expected.hpp>

namespace rm::process {

// The library directory under a prefix, relative ("lib"; CMAKE_INSTALL_LIBDIR of this build).
[[nodiscard]] std::string install_libdir();

// The Python SDK directory (holds remotemedia/runner.py). Error: where it looked, what to do.
[[nodiscard]] tl::expected<std::filesystem::path, std::string> find_python_sdk();

// libremotemedia_ipc.so. Error: where it looked, what to do.
[[nodiscard]] tl::expected<std::filesystem::path, std::string> find_ipc_library();

// `prog` looked up on $PATH (done before fork: execvp is not async-signal-safe); a name with a
// '/' is returned as is when executable; empty when not found.
[[nodiscard]] std::string find_program(const std::string& prog);

}  // namespace rm::process
