#include <gtest/gtest.h>

#include "docker/image_builder.hpp"

using rm::docker::config_hash;
using rm::docker::generate_dockerfile;
using rm::docker::image_hash;
using rm::docker::image_tag;
using rm::docker::validate_for_image;
using rm::runtime::DockerConfig;

namespace {
DockerConfig sample() {
  DockerConfig c;
  c.python_version = "3.11";
  c.system_dependencies = {"ffmpeg", "libsndfile1"};
  c.python_packages = {"numpy==1.24.0", "rmtestpkg[extra]>=1.0"};
  c.resource_limits = {2048, 1.0};
  c.env = {{"PYTHONUNBUFFERED", "1"}, {"MODEL_PATH", "/models/$HOME \"x\""}};
  return c;
}
}  // namespace

TEST(Dockerfile, uses_python_slim_base_apt_pip_with_configurable_index_and_env) {
  const std::string d = generate_dockerfile(sample());
  EXPECT_NE(d.find("FROM python:3.11-slim\n"), std::string::npos) << d;
  EXPECT_NE(d.find("apt-get install -y -qq --no-install-recommends 'ffmpeg' 'libsndfile1' && rm -rf "
                   "/var/lib/apt/lists/*"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("ARG RM_PIP_INDEX_URL="), std::string::npos) << d;
  EXPECT_NE(d.find("${RM_PIP_INDEX_URL:+--index-url \"$RM_PIP_INDEX_URL\"}"), std::string::npos) << d;
  EXPECT_NE(d.find("'numpy==1.24.0' 'rmtestpkg[extra]>=1.0'"), std::string::npos) << d;
  // $ and quotes in env values are escaped so the builder does not expand them.
  EXPECT_NE(d.find("ENV MODEL_PATH=\"/models/\\$HOME \\\"x\\\"\""), std::string::npos) << d;
  EXPECT_NE(d.find("ENV PYTHONUNBUFFERED=\"1\""), std::string::npos) << d;
}

TEST(Dockerfile, base_image_overrides_python_version_and_empty_lists_add_no_steps) {
  DockerConfig c;
  c.python_version = "3.11";
  c.base_image = "debian:bookworm-slim";
  const std::string d = generate_dockerfile(c);
  EXPECT_NE(d.find("FROM debian:bookworm-slim\n"), std::string::npos);
  EXPECT_EQ(d.find("apt-get"), std::string::npos);
  EXPECT_EQ(d.find("pip install"), std::string::npos);
}

TEST(Dockerfile, image_hash_is_stable_and_ignores_container_only_settings) {
  const DockerConfig a = sample();
  DockerConfig b = sample();
  EXPECT_EQ(image_hash(a), image_hash(b));
  EXPECT_EQ(image_hash(a).size(), 16u);
  EXPECT_EQ(image_tag(a), "remotemedia/node:" + image_hash(a));
  b.resource_limits.memory_mb = 4096;
  b.shm_size_mb = 64;
  EXPECT_EQ(image_hash(a), image_hash(b)) << "limits are container settings, not image content";
  EXPECT_NE(config_hash(a), config_hash(b)) << "but containers with other limits differ";
  EXPECT_EQ(config_hash(a), config_hash(sample()));
}

TEST(Dockerfile, any_image_field_change_changes_the_image_hash) {
  const std::string h = image_hash(sample());
  DockerConfig c = sample();
  c.python_packages.push_back("extra==2");
  EXPECT_NE(image_hash(c), h);
  c = sample();
  c.system_dependencies.pop_back();
  EXPECT_NE(image_hash(c), h);
  c = sample();
  c.env["NEW"] = "1";
  EXPECT_NE(image_hash(c), h);
  c = sample();
  c.python_version = "3.12";
  EXPECT_NE(image_hash(c), h);
}

TEST(Dockerfile, stable_hash_matches_fnv1a_reference_values) {
  // FNV-1a 64 published test vectors: the hash must not depend on platform or build.
  EXPECT_EQ(rm::docker::stable_hash_hex(""), "cbf29ce484222325");
  EXPECT_EQ(rm::docker::stable_hash_hex("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(rm::docker::stable_hash_hex("foobar"), "85944171f73967e8");
}

TEST(Dockerfile, shell_and_dockerfile_injection_in_config_is_rejected_naming_field_and_value) {
  DockerConfig c = sample();
  c.system_dependencies = {"ffmpeg; rm -rf /"};
  auto r = validate_for_image(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("docker.system_dependencies"), std::string::npos);
  EXPECT_NE(r.error().message.find("ffmpeg; rm -rf /"), std::string::npos);

  c = sample();
  c.python_packages = {"numpy' && curl x '"};
  r = validate_for_image(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("docker.python_packages"), std::string::npos);

  c = sample();
  c.env = {{"OK", "line1\nRUN evil"}};
  r = validate_for_image(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("docker.env.OK"), std::string::npos);

  c = sample();
  c.env = {{"1BAD", "x"}};
  EXPECT_FALSE(validate_for_image(c));
  EXPECT_TRUE(validate_for_image(sample()));
}
