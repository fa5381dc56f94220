#include "core/config.hpp"

#include <cstdlib>

#include <gtest/gtest.h>

using namespace rm::core;

TEST(Config, unset_variable_gives_the_default) {
  ::unsetenv("RM_TEST_UNSET");
  EXPECT_EQ(env_int("RM_TEST_UNSET", 42).value(), 42);
  EXPECT_EQ(env_string("RM_TEST_UNSET", "x"), "x");
}

TEST(Config, integer_variable_is_parsed) {
  ::setenv("RM_TEST_INT", "17", 1);
  EXPECT_EQ(env_int("RM_TEST_INT", 0).value(), 17);
}

TEST(Config, non_integer_value_is_an_error_naming_variable_and_value) {
  ::setenv("RM_TEST_INT", "4x", 1);
  auto r = env_int("RM_TEST_INT", 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "RM_TEST_INT='4x' is not an integer");
}

TEST(Config, out_of_range_integer_is_an_error) {
  ::setenv("RM_TEST_INT", "0", 1);
  auto r = env_int("RM_TEST_INT", 1, 1, 64);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "RM_TEST_INT=0 is out of range [1, 64]");
}

TEST(Config, double_rejects_non_finite_values) {
  ::setenv("RM_TEST_D", "inf", 1);
  EXPECT_FALSE(env_double("RM_TEST_D", 1.0));
  ::setenv("RM_TEST_D", "10.5", 1);
  EXPECT_DOUBLE_EQ(env_double("RM_TEST_D", 1.0).value(), 10.5);
}

TEST(Config, booleans_accept_common_spellings) {
  for (const char* t : {"true", "TRUE", "1", "yes", "on"}) EXPECT_TRUE(parse_bool("B", t).value()) << t;
  for (const char* f : {"false", "0", "No", "off"}) EXPECT_FALSE(parse_bool("B", f).value()) << f;
  EXPECT_FALSE(parse_bool("B", "maybe"));
}
