// A missing base image on a real dockerd (label docker): pulled first through the Engine API,
// the local recipe only after the pull failed (this machine has no registry), both logged; and
// a cancel while the recipe runs ends it at once, its process group gone. The recipe is a
// small script standing in for scripts/base-images.sh through RM_BASE_IMAGES_SCRIPT (same
// interface: `--list`, then one image to build); it tags debian:bookworm-slim instead of
// running debootstrap, which takes minutes. Each test removes the image it creates.
// And the images the real recipes built (scripts/docker-up.sh, or a first session) behave like
// the official python:<v>-slim: python, pip and venv on PATH, pip installs from an index.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>

#include "core/log.hpp"
#include "docker/base_image.hpp"
#include "docker/client.hpp"
#include "support/docker_test.hpp"
#include "support/local_index.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using rm::docker::DockerClient;
using rm::docker::DockerErrorCode;

namespace {

class BaseImageRecipe : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = DockerClient::connect_from_env();
    if (!c) {
      if (rm::test::require_docker()) FAIL() << c.error().message;
      GTEST_SKIP() << c.error().message;
    }
    client_.emplace(std::move(*c));
    auto base = client_->image_inspect("debian:bookworm-slim");
    ASSERT_TRUE(base && *base) << "scripts/docker-up.sh builds debian:bookworm-slim";
    image_ = "rmtest-base-" + rm::test::unique("r") + ":1";
    log_sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    rm::core::logger("docker")->sinks().push_back(log_sink_);
  }
  void TearDown() override {
    if (log_sink_) {
      auto& sinks = rm::core::logger("docker")->sinks();
      sinks.erase(std::remove(sinks.begin(), sinks.end(), log_sink_), sinks.end());
    }
    ::unsetenv("RM_BASE_IMAGES_SCRIPT");
    if (client_) (void)client_->image_remove(image_, true);
  }

  // A recipe script that lists only this test's image and builds it with `build_body`.
  void use_recipe(const std::string& build_body) {
    script_ = dir_.path() / "base-images.sh";
    std::ofstream(script_) << "#!/usr/bin/env bash\n"
                           << "if [ \"${1:-}\" = --list ]; then echo '" << image_ << "'; exit 0; fi\n"
                           << build_body;
    ::setenv("RM_BASE_IMAGES_SCRIPT", script_.c_str(), 1);
  }
  std::string log() {
    log_sink_->flush();
    return log_.str();
  }

  rm::test::TempDir dir_{"rm-base-recipe"};
  std::optional<DockerClient> client_;
  std::string image_;
  fs::path script_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> log_sink_;
};

TEST_F(BaseImageRecipe, a_missing_base_image_is_pulled_first_and_built_by_the_recipe_after_the_pull_failed) {
  use_recipe(
      "echo \"recipe building $1\"\n"
      "DOCKER_HOST=unix://$RM_DOCKER_SOCKET docker tag debian:bookworm-slim \"$1\"\n");
  std::vector<std::string> progress;
  rm::docker::BaseImageOptions opts;
  auto info = rm::docker::ensure_base_image(
      *client_, image_, "node_a", [&](std::string_view l) { progress.emplace_back(l); }, nullptr, opts);
  ASSERT_TRUE(info) << info.error().message << "\n" << log();
  auto present = client_->image_inspect(image_);
  ASSERT_TRUE(present && *present);
  const std::string text = log();
  const auto pulling = text.find("node node_a: base image " + image_ + " is not on this daemon; pulling it");
  const auto fallback = text.find("; trying the local recipe");
  const auto building = text.find("node node_a: building base image " + image_ + " with the local recipe");
  const auto built = text.find("node node_a: base image " + image_ + " built by the local recipe");
  ASSERT_NE(pulling, std::string::npos) << text;
  ASSERT_NE(fallback, std::string::npos) << "the pull failure is logged\n" << text;
  ASSERT_NE(building, std::string::npos) << text;
  ASSERT_NE(built, std::string::npos) << text;
  EXPECT_LT(pulling, fallback);
  EXPECT_LT(fallback, building) << "the recipe runs only after the pull failed";
  EXPECT_LT(building, built);
  EXPECT_NE(std::find(progress.begin(), progress.end(), "recipe building " + image_), progress.end())
      << "the recipe's output reaches the progress callback";
}

TEST_F(BaseImageRecipe, with_pulling_off_the_recipe_runs_without_a_pull) {
  use_recipe("DOCKER_HOST=unix://$RM_DOCKER_SOCKET docker tag debian:bookworm-slim \"$1\"\n");
  rm::docker::BaseImageOptions opts;
  opts.pull = false;
  auto info = rm::docker::ensure_base_image(*client_, image_, "node_b", {}, nullptr, opts);
  ASSERT_TRUE(info) << info.error().message;
  const std::string text = log();
  EXPECT_EQ(text.find("pulling it"), std::string::npos) << text;
  EXPECT_NE(text.find("built by the local recipe"), std::string::npos) << text;
}

TEST_F(BaseImageRecipe, cancelling_while_the_recipe_runs_ends_it_and_its_process_group_at_once) {
  const fs::path pid_file = dir_.path() / "recipe.pid";
  use_recipe("echo $$ > '" + pid_file.string() +
             "'\n"
             "echo 'recipe started'\n"
             "exec sleep 600\n");
  rm::core::CancelToken cancel;
  std::atomic<bool> started{false};
  rm::docker::BaseImageOptions opts;
  std::thread canceller([&] {
    while (!started.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel.cancel();
  });
  auto info = rm::docker::ensure_base_image(
      *client_, image_, "node_c",
      [&](std::string_view l) {
        if (l == "recipe started") started = true;
      },
      &cancel, opts);
  canceller.join();
  ASSERT_FALSE(info) << "a recipe sleeping 600 s cannot have finished";
  EXPECT_EQ(info.error().code, DockerErrorCode::cancelled) << info.error().message;
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), -1) << "the recipe (pid " << pid << ") was terminated";
  EXPECT_EQ(errno, ESRCH);
  auto present = client_->image_inspect(image_);
  ASSERT_TRUE(present);
  EXPECT_FALSE(*present) << "nothing was built";
}

// Runs a shell command, returning its exit status and combined output.
std::pair<int, std::string> sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

class RecipeImage : public ::testing::TestWithParam<const char*> {};

TEST_P(RecipeImage, has_python_pip_and_venv_on_path_and_pip_installs_from_an_index_like_the_official_image) {
  const std::string version = GetParam();
  const std::string image = "python:" + version + "-slim";
  auto c = DockerClient::connect_from_env();
  if (!c) {
    if (rm::test::require_docker()) FAIL() << c.error().message;
    GTEST_SKIP() << c.error().message;
  }
  // Built on demand by the real recipe when missing (minutes once, then cached), as a session would.
  auto present = rm::docker::ensure_base_image(*c, image, "recipe_check");
  ASSERT_TRUE(present) << present.error().message;
  EXPECT_EQ(rm::docker::image_python_version(*present), version)
      << "ENV PYTHON_VERSION as the official image";
  rm::test::LocalIndex index;
  const std::string name = rm::test::unique("rm-recipe-check-");
  // --rm: the container is this test's and goes with it. Host network: the index is on 127.0.0.1.
  rm::test::TempDir dir("rm-recipe-check");
  std::ofstream(dir.path() / "check.sh") << R"SH(set -e
python --version
pip --version
pip install -q --index-url "$1" rmdemo==1.0
python -c 'import rmdemo; print("system pip:", rmdemo.__name__)'
python -m venv /tmp/v
/tmp/v/bin/pip install -q --index-url "$1" rmdemo==2.0
/tmp/v/bin/python -c 'import rmdemo; print("venv pip:", rmdemo.__name__)'
)SH";
  ::chmod(dir.path().c_str(), 0755);
  auto [code, out] = sh("docker run --rm --network host --name " + name + " -v " + dir.path().string() +
                        ":/check:ro -e PIP_DISABLE_PIP_VERSION_CHECK=1 -e PIP_NO_CACHE_DIR=1 " + image +
                        " sh /check/check.sh " + index.url());
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("Python " + version + "."), std::string::npos) << out;
  EXPECT_NE(out.find("(python " + version + ")"), std::string::npos) << "pip belongs to that python\n" << out;
  EXPECT_NE(out.find("system pip: rmdemo"), std::string::npos) << out;
  EXPECT_NE(out.find("venv pip: rmdemo"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(EveryDebianPython, RecipeImage, ::testing::Values("3.9", "3.11", "3.13"),
                         [](const auto& p) {
                           std::string n = std::string("python_") + p.param;
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

}  // namespace
