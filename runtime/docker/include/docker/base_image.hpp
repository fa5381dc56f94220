#pragma once
// Base images: the image a node's generated Dockerfile starts FROM (python:<v>-slim unless the
// manifest names base_image). A missing one is first pulled through the Engine API (POST
// /images/create), as on any machine with a registry; only when that fails (no registry, as on
// a closed network) is the local recipe run: scripts/base-images.sh builds the image with
// debootstrap from the Debian release that ships that Python (bullseye 3.9, bookworm 3.11,
// trixie 3.13). The first build takes minutes; its root filesystem is cached (RM_BASE_CACHE),
// so rebuilding later only re-imports a tarball. Pull failure and recipe are both logged.
//
// Thread-safety: ensure_base_image() may be called from any thread; concurrent calls for the
// same image in one process pull/build it once (the script also locks across processes).
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "docker/client.hpp"

namespace rm::docker {

// Images the local recipe builds: debian:bookworm-slim and python:<v>-slim for every
// runtime::kBuildablePythonVersions entry.
std::vector<std::string> recipe_images();
bool has_recipe(std::string_view image);

// scripts/base-images.sh: $RM_BASE_IMAGES_SCRIPT, else found next to this program (source
// tree: <repo>/scripts/, installed: <prefix>/share/remotemedia/scripts/).
std::optional<std::filesystem::path> find_base_images_script();

struct BaseImageOptions {
  bool pull = true;  // RM_DOCKER_PULL=0 skips the registry (straight to the recipe)
  std::chrono::milliseconds pull_timeout = std::chrono::minutes(20);
  std::chrono::milliseconds recipe_timeout = std::chrono::minutes(30);
  static BaseImageOptions from_env();
};

// Makes `image` present: inspect, else pull, else the local recipe. Progress lines (pull
// status, the script's output) go to on_progress. Errors name the image, why the pull failed
// and why the recipe could not run (none for this image, not root, script missing, failed
// with its last lines); cancelled within a second when `cancel` fires (the script's whole
// process group is terminated).
Result<ImageInfo> ensure_base_image(const DockerClient& client, const std::string& image,
                                    std::string_view node_id,
                                    const std::function<void(std::string_view)>& on_progress = {},
                                    const CancelToken* cancel = nullptr,
                                    BaseImageOptions options = BaseImageOptions::from_env());

// The Python major.minor an image declares (ENV PYTHON_VERSION, as the official images and the
// local recipes set it); empty when it declares none.
std::string image_python_version(const ImageInfo& image);

// Runs a program (no shell) with stdout+stderr as lines to on_line, in its own process group;
// a cancel or the deadline terminates the group (SIGTERM, SIGKILL 500 ms later). Returns the
// exit code (128+signal when killed by one).
Result<int> run_program(const std::vector<std::string>& argv,
                        const std::vector<std::pair<std::string, std::string>>& extra_env,
                        const std::function<void(std::string_view line)>& on_line,
                        std::chrono::milliseconds timeout, const CancelToken* cancel);

}  // namespace rm::docker
