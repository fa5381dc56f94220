#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "docker/tar_writer.hpp"

namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& tag) {
  auto p = fs::temp_directory_path() / ("rm-tar-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

TEST(TarWriter, archive_extracts_with_gnu_tar_to_the_same_files) {
  rm::docker::TarWriter w;
  const std::string long_dir(120, 'd');
  const std::string binary("\0\x01\xff data", 8);
  ASSERT_TRUE(w.add_file("Dockerfile", "FROM python:3.11-slim\n"));
  ASSERT_TRUE(w.add_file("empty", ""));
  ASSERT_TRUE(w.add_file(long_dir + "/nested.bin", binary));
  ASSERT_TRUE(w.add_file("exactly512", std::string(512, 'z'), 0755));
  const std::string tar = w.finish();
  EXPECT_EQ(tar.size() % 512, 0u);

  const auto dir = temp_dir("extract");
  { std::ofstream(dir / "ctx.tar", std::ios::binary) << tar; }
  fs::create_directories(dir / "out");
  const std::string cmd = "tar -xf '" + (dir / "ctx.tar").string() + "' -C '" + (dir / "out").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(slurp(dir / "out" / "Dockerfile"), "FROM python:3.11-slim\n");
  EXPECT_EQ(slurp(dir / "out" / "empty"), "");
  EXPECT_EQ(slurp(dir / "out" / long_dir / "nested.bin"), binary);
  EXPECT_EQ(slurp(dir / "out" / "exactly512"), std::string(512, 'z'));
  EXPECT_TRUE((fs::status(dir / "out" / "exactly512").permissions() & fs::perms::owner_exec) !=
              fs::perms::none);
  fs::remove_all(dir);
}

TEST(TarWriter, equal_contents_give_equal_bytes) {
  rm::docker::TarWriter a, b;
  ASSERT_TRUE(a.add_file("Dockerfile", "FROM x\n"));
  ASSERT_TRUE(b.add_file("Dockerfile", "FROM x\n"));
  EXPECT_EQ(a.finish(), b.finish());
}

TEST(TarWriter, absolute_parent_and_overlong_names_are_rejected_with_the_name) {
  rm::docker::TarWriter w;
  auto abs = w.add_file("/etc/passwd", "x");
  ASSERT_FALSE(abs);
  EXPECT_NE(abs.error().message.find("/etc/passwd"), std::string::npos);
  EXPECT_FALSE(w.add_file("../up", "x"));
  EXPECT_FALSE(w.add_file("", "x"));
  auto longname = w.add_file(std::string(300, 'a'), "x");
  ASSERT_FALSE(longname);
  EXPECT_NE(longname.error().message.find("too long"), std::string::npos);
}
