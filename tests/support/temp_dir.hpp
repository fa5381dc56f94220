#pragma once
// TempDir: a fresh private directory for one test (mkdtemp, so parallel tests and reruns never
// share one), removed with everything in it when the object goes away.
//
//   rm::test::TempDir dir("rm-cli-warn");             // under the system temp directory
//   rm::test::TempDir shm("rm-ipc", TempDir::shm());  // under /dev/shm when it exists
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace rm::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "rm-test",
                   const std::filesystem::path& parent = std::filesystem::temp_directory_path()) {
    std::string tmpl = (parent / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("cannot create a temporary directory " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // /dev/shm when this machine has it (shared-memory tests), else the system temp directory.
  static std::filesystem::path shm() {
    std::error_code ec;
    return std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                         : std::filesystem::temp_directory_path();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace rm::test
