// Pure pieces of the base-image story: which images the local recipe builds (and that the
// script agrees), the SDK-provided iceoryx2 line, the python_version check, human units, and
// that the shipped IPC library asks for no glibc newer than bullseye's.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>

#include "docker/base_image.hpp"
#include "docker/human_units.hpp"
#include "docker/image_builder.hpp"

namespace {

using namespace rm::docker;

std::string output_of(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(BaseImages, the_local_recipes_are_the_pythons_debian_ships_and_the_script_lists_the_same) {
  EXPECT_EQ(recipe_images(), (std::vector<std::string>{"debian:bookworm-slim", "python:3.9-slim",
                                                       "python:3.11-slim", "python:3.13-slim"}));
  EXPECT_TRUE(has_recipe("python:3.9-slim"));
  EXPECT_FALSE(has_recipe("python:3.10-slim"));
  const auto listed = output_of("bash " + std::string(RM_SOURCE_DIR) + "/scripts/base-images.sh --list");
  EXPECT_EQ(listed, "debian:bookworm-slim\npython:3.9-slim\npython:3.11-slim\npython:3.13-slim\n");
}

TEST(BaseImages, iceoryx2_in_python_packages_is_provided_by_the_sdk_and_not_pip_installed) {
  rm::runtime::DockerConfig c;
  c.python_version = "3.11";
  c.python_packages = {"numpy==1.24.0", "iceoryx2", "IceOryx2>=0.4", "iceoryx2-extra"};
  EXPECT_EQ(pip_requirements(c), (std::vector<std::string>{"numpy==1.24.0", "iceoryx2-extra"}));
  const auto d = generate_dockerfile(c);
  EXPECT_EQ(d.find("'iceoryx2'"), std::string::npos) << d;
  EXPECT_NE(d.find("'numpy==1.24.0'"), std::string::npos) << d;
  auto without = c;
  without.python_packages = {"numpy==1.24.0", "iceoryx2-extra"};
  EXPECT_EQ(image_hash(c), image_hash(without));
}

TEST(BaseImages, a_base_image_whose_python_differs_from_python_version_is_a_warning_naming_both) {
  rm::runtime::DockerConfig c;
  c.python_version = "3.11";
  c.base_image = "python:3.9-slim";
  ImageInfo img;
  img.env = {"PATH=/usr/bin", "PYTHON_VERSION=3.9.2"};
  EXPECT_EQ(image_python_version(img), "3.9");
  EXPECT_EQ(python_version_mismatch(c, img, "node_a"),
            "node node_a: docker.python_version is 3.11 but base image python:3.9-slim has Python 3.9; the "
            "node runs on Python 3.9 (set python_version: \"3.9\" to match, or pick a base image with Python "
            "3.11)");
  c.python_version = "3.9.2";
  EXPECT_EQ(python_version_mismatch(c, img, "node_a"), "");
  img.env = {"PATH=/usr/bin"};  // an image that does not say
  c.python_version = "3.11";
  EXPECT_EQ(python_version_mismatch(c, img, "node_a"), "");
}

TEST(HumanUnits, sizes_and_ages_read_like_docker_images) {
  EXPECT_EQ(human_size(512), "512 B");
  EXPECT_EQ(human_size(1500), "1.5 kB");
  EXPECT_EQ(human_size(245'300'000), "245 MB");
  EXPECT_EQ(human_size(1'234'000'000), "1.23 GB");
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  EXPECT_EQ(human_age("1700000000", now), "just now");
  EXPECT_EQ(human_age("1699999700", now), "5 minutes ago");
  EXPECT_EQ(human_age("1699989200", now), "3 hours ago");
  EXPECT_EQ(human_age("1699827200", now), "2 days ago");
  EXPECT_EQ(human_age("1689632000", now), "4 months ago");
  EXPECT_EQ(human_age("2023-01-01T00:00:00Z", now), "2023-01-01T00:00:00Z");
  EXPECT_EQ(human_age("", now), "unknown");
}

// The library mounted into every container must load with bullseye's glibc 2.31.
TEST(IpcLibrary, asks_for_no_glibc_symbol_version_newer_than_2_31) {
  const char* env = std::getenv("RM_IPC_LIBRARY");
  const std::string lib = env ? env : std::string(RM_BINARY_DIR) + "/ipc/libremotemedia_ipc.so";
  if (!std::filesystem::exists(lib)) GTEST_SKIP() << lib << " not built";
  const auto needed = output_of("objdump -p " + lib + " 2>&1");
  if (needed.find("libstdc++") != std::string::npos) GTEST_SKIP() << lib << " is a sanitizer build";
  const auto syms = output_of("objdump -T " + lib + " 2>&1");
  ASSERT_NE(syms.find("rm_ipc_"), std::string::npos) << syms.substr(0, 500);
  std::regex version(R"(GLIBC_2\.([0-9]+))");
  int newest = 0;
  std::string which;
  for (std::sregex_iterator it(syms.begin(), syms.end(), version), end; it != end; ++it) {
    const int minor = std::stoi((*it)[1]);
    if (minor > newest) {
      newest = minor;
      which = it->str();
    }
  }
  EXPECT_LE(newest, 31) << which;
}

}  // namespace
