#include "core/log.hpp"

#include <cstdlib>

#include <gtest/gtest.h>

using namespace rm::core;

TEST(Log, level_names_are_parsed_case_insensitively) {
  EXPECT_EQ(parse_level("DEBUG"), spdlog::level::debug);
  EXPECT_EQ(parse_level("warning"), spdlog::level::warn);
  EXPECT_EQ(parse_level("off"), spdlog::level::off);
  EXPECT_EQ(parse_level("nonsense", spdlog::level::err), spdlog::level::err);
}

TEST(Log, level_comes_from_the_environment) {
  ::setenv("RM_LOG_LEVEL", "debug", 1);
  init_logging("test");
  EXPECT_EQ(logger("log_test")->level(), spdlog::level::debug);
  ::setenv("RM_LOG_LEVEL", "error", 1);
  init_logging("test");
  EXPECT_EQ(logger("log_test")->level(), spdlog::level::err);
  EXPECT_EQ(logger("log_test_new")->level(), spdlog::level::err);
  ::unsetenv("RM_LOG_LEVEL");
}

TEST(Log, the_same_module_gets_the_same_logger) {
  EXPECT_EQ(logger("a.b"), logger("a.b"));
}
