#pragma once
// Node images: a Dockerfile generated from the node's docker config, built through the Engine
// API, tagged `remotemedia/node:<hash>` where the hash covers the generated Dockerfile (so
// exactly what ends up in the image: base image, apt and pip packages, env, generator version).
// An unchanged config reuses the image; any change to those fields builds a new one. Limits,
// volumes and GPUs are container settings and do not touch the image.
//
// The SDK and the IPC library are mounted into containers at run time, never baked in, so an
// SDK change does not invalidate user images.
//
// Thread-safety: ImageBuilder may be shared; concurrent ensure_image() calls for the same tag
// build it once.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "docker/client.hpp"
#include "runtime/docker_config.hpp"

namespace rm::docker {

// Bumped whenever generate_dockerfile() changes its output for the same config.
inline constexpr std::string_view kDockerfileGeneratorVersion = "1";
inline constexpr std::string_view kNodeImageRepository = "remotemedia/node";
inline constexpr std::string_view kLabelManaged = "remotemedia.managed";
inline constexpr std::string_view kLabelImageHash = "remotemedia.image_hash";
inline constexpr std::string_view kLabelNode = "remotemedia.node";

struct BuildSettings {
  // pip's index (a PEP 503 "simple" URL, e.g. a local mirror). Empty: pip's default.
  std::string pip_index_url;
  // Host pip should trust without TLS; derived from an http:// index URL when empty.
  std::string pip_trusted_host;
  std::string network_mode = "host";  // builds reach apt mirrors / a 127.0.0.1 index as the host does
  std::chrono::milliseconds timeout = std::chrono::minutes(20);
  bool no_cache = false;
  // RM_PIP_INDEX_URL, RM_PIP_TRUSTED_HOST, RM_DOCKER_BUILD_TIMEOUT_S.
  static BuildSettings from_env();
};

// "python:{python_version}-slim" unless base_image is set.
std::string base_image_for(const runtime::DockerConfig& config);

// Checks the fields that go into the Dockerfile (package names, env names/values) so the
// generated file cannot be broken or injected into; the message names the field and value.
Status validate_for_image(const runtime::DockerConfig& config);

// True for requirements the SDK provides itself and that are never pip-installed: `iceoryx2`
// (the seed lists it for IPC; the runtime's own shared-memory channels, mounted with the SDK,
// do that job).
bool provided_by_sdk(std::string_view requirement);
// python_packages without the ones provided_by_sdk().
std::vector<std::string> pip_requirements(const runtime::DockerConfig& config);

// The warning naming both when the base image's Python (ENV PYTHON_VERSION) is not
// config.python_version; empty when they agree or the image declares none.
std::string python_version_mismatch(const runtime::DockerConfig& config, const ImageInfo& base,
                                    std::string_view node_id);
// Logs python_version_mismatch() as a warning.
void check_python_version(const runtime::DockerConfig& config, const ImageInfo& base,
                          std::string_view node_id);

// The Dockerfile for a validated config. Deterministic.
std::string generate_dockerfile(const runtime::DockerConfig& config);

// 16 hex digits (64-bit FNV-1a) of text; stable across runs, machines and builds.
std::string stable_hash_hex(std::string_view text);
// Hash of the generated Dockerfile: the image tag.
std::string image_hash(const runtime::DockerConfig& config);
// Hash of the whole canonical config (limits, volumes, ... too) plus the generator version:
// containers with equal config_hash are interchangeable.
std::string config_hash(const runtime::DockerConfig& config);
// "remotemedia/node:<image_hash>"
std::string image_tag(const runtime::DockerConfig& config);

struct EnsuredImage {
  std::string tag;
  std::string image_id;
  bool built = false;  // false: the cached image was reused
  std::chrono::milliseconds took{0};
};

class ImageBuilder {
 public:
  ImageBuilder(DockerClient client, BuildSettings settings)
      : client_(std::move(client)), settings_(std::move(settings)) {}

  // Returns the image for `config`, building it when missing (and its base image first, see
  // base_image.hpp). Build progress lines go to the "docker" logger tagged with node_id (debug
  // level) and to on_progress when given. Errors: not_found when the base image can be neither
  // pulled nor built here (with how to get it), build_failed with the failing step and the last
  // log lines, cancelled, or the client's errors.
  Result<EnsuredImage> ensure_image(const runtime::DockerConfig& config, std::string_view node_id,
                                    const std::function<void(std::string_view)>& on_progress = {},
                                    const CancelToken* cancel = nullptr) const;

  const DockerClient& client() const { return client_; }
  const BuildSettings& settings() const { return settings_; }

 private:
  DockerClient client_;
  BuildSettings settings_;
};

// `remotemedia images ls`: node images (label remotemedia.managed).
Result<std::vector<ImageInfo>> list_node_images(const DockerClient& client);

struct PruneReport {
  std::vector<std::string> removed;  // tags (or ids) removed
  std::vector<std::string> in_use;   // kept: some container (running or not) uses them
};
// `remotemedia images prune`: removes node images no container uses.
Result<PruneReport> prune_node_images(const DockerClient& client);

}  // namespace rm::docker
