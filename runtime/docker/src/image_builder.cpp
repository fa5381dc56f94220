#include "docker/image_builder.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "core/log.hpp"
#include "docker/base_image.hpp"
#include "docker/tar_writer.hpp"

namespace rm::docker {

namespace {

std::string getenv_str(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool all_of(std::string_view s, std::string_view allowed_extra, bool allow_upper) {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    (allow_upper && c >= 'A' && c <= 'Z') || allowed_extra.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// Single-quoted for /bin/sh; validate_for_image() has excluded quotes and control characters.
std::string sh_quote(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// Double-quoted for a Dockerfile ENV line: the builder expands $VAR and treats \ as escape.
std::string env_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '$') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string host_of(std::string_view url) {
  auto p = url.find("://");
  if (p == std::string_view::npos) return {};
  url.remove_prefix(p + 3);
  url = url.substr(0, url.find('/'));
  return std::string(url.substr(0, url.rfind(':') == std::string_view::npos ? url.size() : url.rfind(':')));
}

}  // namespace

BuildSettings BuildSettings::from_env() {
  BuildSettings s;
  s.pip_index_url = getenv_str("RM_PIP_INDEX_URL");
  s.pip_trusted_host = getenv_str("RM_PIP_TRUSTED_HOST");
  if (auto t = getenv_str("RM_DOCKER_BUILD_TIMEOUT_S"); !t.empty()) {
    const long v = std::strtol(t.c_str(), nullptr, 10);
    if (v > 0) s.timeout = std::chrono::seconds(v);
  }
  return s;
}

std::string base_image_for(const runtime::DockerConfig& config) {
  if (!config.base_image.empty()) return config.base_image;
  return "python:" + config.python_version + "-slim";
}

Status validate_for_image(const runtime::DockerConfig& c) {
  auto bad = [](std::string_view field, std::string_view value, std::string_view why) {
    return docker_error(DockerErrorCode::invalid_argument,
                        fmt::format("docker.{}: '{}' {}", field, value, why));
  };
  if (c.base_image.empty() && (c.python_version.empty() || !all_of(c.python_version, ".", false))) {
    return bad("python_version", c.python_version, "is not a version like 3.11");
  }
  if (!c.base_image.empty() && !all_of(c.base_image, "._-/:@", true)) {
    return bad("base_image", c.base_image, "is not an image reference like python:3.11-slim");
  }
  for (const auto& p : c.system_dependencies) {
    // Debian package names, optionally with =version or :arch.
    if (p.empty() || !all_of(p, ".+-:=~", false)) {
      return bad("system_dependencies", p, "is not a Debian package name (e.g. libsndfile1)");
    }
  }
  for (const auto& p : c.python_packages) {
    // PEP 508 requirement specs without URLs or markers that need quotes.
    if (p.empty() || !all_of(p, "._-[]=<>!~,*+ ", true)) {
      return bad("python_packages", p, "is not a pip requirement like name, name==1.2 or name[extra]>=1.0");
    }
  }
  for (const auto& [k, v] : c.env) {
    if (k.empty() || !all_of(k, "_", true) || (k[0] >= '0' && k[0] <= '9')) {
      return bad("env", k, "is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    for (char ch : v) {
      if (static_cast<unsigned char>(ch) < 0x20) {
        return bad("env." + k, v, "contains a control character (newline, tab, ...)");
      }
    }
  }
  return {};
}

bool provided_by_sdk(std::string_view requirement) {
  // The name before any version specifier or extra, compared the way pip normalises names.
  std::string name;
  for (char ch : requirement) {
    if (std::string_view("[=<>!~ ,;").find(ch) != std::string_view::npos) break;
    name += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : (ch == '_' ? '-' : ch);
  }
  return name == "iceoryx2";
}

std::vector<std::string> pip_requirements(const runtime::DockerConfig& c) {
  std::vector<std::string> out;
  for (const auto& p : c.python_packages)
    if (!provided_by_sdk(p)) out.push_back(p);
  return out;
}

std::string python_version_mismatch(const runtime::DockerConfig& c, const ImageInfo& base,
                                    std::string_view node_id) {
  if (c.python_version.empty()) return {};
  const std::string has = image_python_version(base);
  std::string want = c.python_version;
  if (std::count(want.begin(), want.end(), '.') >= 2) want.resize(want.find('.', want.find('.') + 1));
  if (has.empty() || has == want) return {};
  return fmt::format(
      "node {}: docker.python_version is {} but base image {} has Python {}; the node runs on "
      "Python {} (set python_version: \"{}\" to match, or pick a base image with Python {})",
      node_id, c.python_version, base_image_for(c), has, has, has, want);
}

void check_python_version(const runtime::DockerConfig& c, const ImageInfo& base, std::string_view node_id) {
  if (auto w = python_version_mismatch(c, base, node_id); !w.empty()) core::logger("docker")->warn("{}", w);
}

std::string generate_dockerfile(const runtime::DockerConfig& c) {
  std::string d;
  d += fmt::format("# Generated by remotemedia (Dockerfile generator {}). Do not edit.\n",
                   kDockerfileGeneratorVersion);
  d += "FROM " + base_image_for(c) + "\n";
  d += "ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "
       "PYTHONUNBUFFERED=1\n";
  if (!c.system_dependencies.empty()) {
    std::string pkgs;
    for (const auto& p : c.system_dependencies) pkgs += " " + sh_quote(p);
    d += "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends" + pkgs +
         " && rm -rf /var/lib/apt/lists/*\n";
  }
  if (const auto reqs = pip_requirements(c); !reqs.empty()) {
    // The index is a build argument, not part of the file: moving to another mirror must not
    // change the image hash.
    std::string pkgs;
    for (const auto& p : reqs) pkgs += " " + sh_quote(p);
    d += "ARG RM_PIP_INDEX_URL=\nARG RM_PIP_TRUSTED_HOST=\n";
    d += "RUN python3 -m pip install --no-cache-dir"
         " ${RM_PIP_INDEX_URL:+--index-url \"$RM_PIP_INDEX_URL\"}"
         " ${RM_PIP_TRUSTED_HOST:+--trusted-host \"$RM_PIP_TRUSTED_HOST\"}" +
         pkgs + "\n";
  }
  for (const auto& [k, v] : c.env) d += "ENV " + k + "=" + env_quote(v) + "\n";
  return d;
}

std::string stable_hash_hex(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", h);
}

std::string image_hash(const runtime::DockerConfig& config) {
  return stable_hash_hex(generate_dockerfile(config));
}

std::string config_hash(const runtime::DockerConfig& config) {
  return stable_hash_hex(config.canonical_json() + "\n" + std::string(kDockerfileGeneratorVersion));
}

std::string image_tag(const runtime::DockerConfig& config) {
  return std::string(kNodeImageRepository) + ":" + image_hash(config);
}

Result<EnsuredImage> ImageBuilder::ensure_image(const runtime::DockerConfig& config, std::string_view node_id,
                                                const std::function<void(std::string_view)>& on_progress,
                                                const CancelToken* cancel) const {
  const auto t0 = std::chrono::steady_clock::now();
  auto log = core::logger("docker");
  if (auto ok = validate_for_image(config); !ok) {
    return docker_error(ok.error().code, fmt::format("node {}: {}", node_id, ok.error().message));
  }
  EnsuredImage out;
  out.tag = image_tag(config);
  for (const auto& p : config.python_packages) {
    if (provided_by_sdk(p)) {
      log->info(
          "node {}: python_packages: '{}' is not installed: the remotemedia SDK mounted into "
          "the container provides the shared-memory IPC (docs/docker-nodes.md)",
          node_id, p);
    }
  }

  // One build per tag per process at a time; the second caller then finds the image.
  static std::mutex registry_mutex;
  static std::map<std::string, std::shared_ptr<std::mutex>> per_tag;
  std::shared_ptr<std::mutex> tag_mutex;
  {
    std::lock_guard lock(registry_mutex);
    auto& m = per_tag[out.tag];
    if (!m) m = std::make_shared<std::mutex>();
    tag_mutex = m;
  }
  std::lock_guard build_lock(*tag_mutex);

  auto existing = client_.image_inspect(out.tag);
  if (!existing) return tl::unexpected(existing.error());
  if (*existing) {
    check_python_version(config, **existing, node_id);  // the node image inherits the base's env
    out.image_id = (*existing)->id;
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    log->info("node {}: reusing image {} (built before for this exact docker config)", node_id, out.tag);
    return out;
  }

  const std::string base = base_image_for(config);
  auto base_info = ensure_base_image(client_, base, node_id, on_progress, cancel);
  if (!base_info) {
    auto e = base_info.error();
    e.message = fmt::format("node {}: {}", node_id, e.message);
    return tl::unexpected(std::move(e));
  }
  check_python_version(config, *base_info, node_id);

  TarWriter tar;
  const std::string dockerfile = generate_dockerfile(config);
  if (auto ok = tar.add_file("Dockerfile", dockerfile); !ok) return tl::unexpected(ok.error());

  BuildRequest req;
  req.context_tar = tar.finish();
  req.tag = out.tag;
  req.network_mode = settings_.network_mode;
  req.no_cache = settings_.no_cache;
  if (!settings_.pip_index_url.empty()) {
    req.build_args["RM_PIP_INDEX_URL"] = settings_.pip_index_url;
    std::string trusted = settings_.pip_trusted_host;
    if (trusted.empty() && settings_.pip_index_url.starts_with("http://")) {
      trusted = host_of(settings_.pip_index_url);
    }
    if (!trusted.empty()) req.build_args["RM_PIP_TRUSTED_HOST"] = trusted;
  }
  req.labels[std::string(kLabelManaged)] = "1";
  req.labels[std::string(kLabelImageHash)] = image_hash(config);
  req.labels[std::string(kLabelNode)] = std::string(node_id);
  const std::string node(node_id);
  req.on_progress = [&](std::string_view line) {
    log->debug("[{} build] {}", node, line);
    if (on_progress) on_progress(line);
  };
  log->info("node {}: building image {} from {}", node_id, out.tag, base);
  auto built = client_.image_build(req, settings_.timeout, cancel);
  if (!built) {
    auto e = built.error();
    e.message = fmt::format("node {}: {}", node_id, e.message);
    return tl::unexpected(std::move(e));
  }
  out.image_id = built->image_id;
  out.built = true;
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  log->info("node {}: built image {} in {} ms", node_id, out.tag, out.took.count());
  return out;
}

Result<std::vector<ImageInfo>> list_node_images(const DockerClient& client) {
  return client.image_list({{std::string(kLabelManaged), "1"}});
}

Result<PruneReport> prune_node_images(const DockerClient& client) {
  auto images = list_node_images(client);
  if (!images) return tl::unexpected(images.error());
  auto containers = client.container_list({}, true);
  if (!containers) return tl::unexpected(containers.error());
  std::set<std::string> used;
  for (const auto& c : *containers) {
    used.insert(c.image);
    used.insert(c.image_id);
  }
  PruneReport report;
  for (const auto& img : *images) {
    bool in_use = used.count(img.id) > 0;
    for (const auto& t : img.tags) in_use = in_use || used.count(t) > 0;
    const std::string name = img.tags.empty() ? img.id : img.tags.front();
    if (in_use) {
      report.in_use.push_back(name);
      continue;
    }
    if (auto ok = client.image_remove(img.id, true); !ok) {
      if (ok.error().code == DockerErrorCode::conflict) {
        report.in_use.push_back(name);
        continue;
      }
      return tl::unexpected(ok.error());
    }
    report.removed.push_back(name);
  }
  return report;
}

}  // namespace rm::docker
