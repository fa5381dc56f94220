// Where a Python node's SDK and IPC library come from (process/install_layout.hpp): the build
// tree mirrors an installed prefix, the environment overrides, and a miss names what to do.
#include "process/install_layout.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>

namespace fs = std::filesystem;
using namespace rm::process;

namespace {

// Sets (or unsets) an environment variable for one test, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(InstallLayout, TheBuildTreeGivesItsOwnSdkAndIpcLibraryWithoutEnvironment) {
  ScopedEnv sdk("RM_PYTHON_SDK_DIR", nullptr);
  ScopedEnv lib("RM_IPC_LIBRARY", nullptr);
  auto s = find_python_sdk();
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(fs::weakly_canonical(*s),
            fs::weakly_canonical(fs::path(RM_BINARY_DIR) / "share/remotemedia/python"));
  EXPECT_TRUE(fs::exists(*s / "remotemedia/runner.py"));
  auto l = find_ipc_library();
  ASSERT_TRUE(l) << l.error();
  EXPECT_EQ(*l, fs::path(RM_BINARY_DIR) / install_libdir() / "libremotemedia_ipc.so");
}

TEST(InstallLayout, EnvironmentVariablesOverrideTheLookupAsGiven) {
  ScopedEnv sdk("RM_PYTHON_SDK_DIR", "/nonexistent/sdk");
  ScopedEnv lib("RM_IPC_LIBRARY", "/nonexistent/libremotemedia_ipc.so");
  EXPECT_EQ(find_python_sdk().value(), fs::path("/nonexistent/sdk"));
  EXPECT_EQ(find_ipc_library().value(), fs::path("/nonexistent/libremotemedia_ipc.so"));
}

TEST(InstallLayout, EmptyEnvironmentVariablesDoNotOverride) {
  ScopedEnv sdk("RM_PYTHON_SDK_DIR", "");
  auto s = find_python_sdk();
  ASSERT_TRUE(s) << s.error();
  EXPECT_NE(*s, fs::path());
}

TEST(InstallLayout, ProgramsAreFoundOnPathAndMissingOnesGiveEmpty) {
  ScopedEnv path("PATH", "/nonexistent:/bin:/usr/bin");
  EXPECT_FALSE(find_program("sh").empty());
  EXPECT_TRUE(find_program("no-such-program-rm").empty());
  EXPECT_TRUE(find_program("/nonexistent/python3").empty());
  EXPECT_EQ(find_program("/bin/sh"), "/bin/sh");
}

}  // namespace
