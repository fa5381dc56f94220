#include "docker/base_image.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/config.hpp"
#include "core/log.hpp"
#include "docker/stream_decoders.hpp"
#include "runtime/docker_config.hpp"

extern char** environ;

namespace rm::docker {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<std::string> recipe_images() {
  std::vector<std::string> out{"debian:bookworm-slim"};
  for (auto v : runtime::kBuildablePythonVersions) out.push_back(fmt::format("python:{}-slim", v));
  return out;
}

bool has_recipe(std::string_view image) {
  auto all = recipe_images();
  return std::find(all.begin(), all.end(), image) != all.end();
}

std::optional<fs::path> find_base_images_script() {
  if (auto env = core::env_string("RM_BASE_IMAGES_SCRIPT", ""); !env.empty()) return fs::path(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    for (const auto& rel :
         {fs::path("scripts/base-images.sh"), fs::path("share/remotemedia/scripts/base-images.sh")}) {
      if (fs::is_regular_file(dir / rel, ec)) return dir / rel;
    }
  }
  return std::nullopt;
}

BaseImageOptions BaseImageOptions::from_env() {
  BaseImageOptions o;
  o.pull = core::env_bool("RM_DOCKER_PULL", true).value_or(true);
  return o;
}

std::string image_python_version(const ImageInfo& image) {
  for (const auto& kv : image.env) {
    if (!kv.starts_with("PYTHON_VERSION=")) continue;
    std::string v = kv.substr(15);
    // 3.11.4 -> 3.11
    if (std::count(v.begin(), v.end(), '.') >= 2) v.resize(v.find('.', v.find('.') + 1));
    return v;
  }
  return {};
}

namespace {

// Closes both pipe ends and reaps the child on every path.
struct Child {
  pid_t pid = -1;
  int out = -1;
  ~Child() {
    if (out >= 0) ::close(out);
    if (pid > 0) {
      ::kill(-pid, SIGKILL);
      int st = 0;
      ::waitpid(pid, &st, 0);
    }
  }
};

int exit_code_of(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

}  // namespace

Result<int> run_program(const std::vector<std::string>& argv,
                        const std::vector<std::pair<std::string, std::string>>& extra_env,
                        const std::function<void(std::string_view)>& on_line,
                        std::chrono::milliseconds timeout, const CancelToken* cancel) {
  if (argv.empty()) return docker_error(DockerErrorCode::invalid_argument, "no program to run");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return docker_error(DockerErrorCode::io, fmt::format("pipe: {}", std::strerror(errno)));
  }
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    const auto name = kv.substr(0, kv.find('='));
    const bool replaced =
        std::any_of(extra_env.begin(), extra_env.end(), [&](const auto& p) { return p.first == name; });
    if (!replaced) env_text.emplace_back(kv);
  }
  for (const auto& [k, v] : extra_env) env_text.push_back(k + "=" + v);
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : env_text) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawnattr_init(&attr);
  // Its own process group, so a cancel reaches debootstrap and everything else it started.
  // The CLI blocks SIGINT/SIGTERM in its threads (core::Shutdown); the program gets them back.
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  Child child;
  const int rc = ::posix_spawnp(&child.pid, av[0], &actions, &attr, av.data(), ev.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  child.out = fds[0];
  if (rc != 0) {
    child.pid = -1;
    return docker_error(DockerErrorCode::io, fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  }
  LineSplitter lines([&](std::string_view l) {
    if (on_line) on_line(l);
  });
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<DockerErrorCode> aborted;
  char buf[4096];
  for (;;) {
    if (!aborted && cancel != nullptr && cancel->cancelled()) aborted = DockerErrorCode::cancelled;
    if (!aborted && std::chrono::steady_clock::now() > deadline) aborted = DockerErrorCode::timeout;
    if (aborted) break;
    pollfd p{child.out, POLLIN, 0};
    const int n = ::poll(&p, 1, 100);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    const ssize_t got = ::read(child.out, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // every writer closed: the program (and its children) are done
    lines.feed(std::string_view(buf, static_cast<std::size_t>(got)));
  }
  lines.flush();
  if (aborted) {
    const pid_t group = child.pid;
    ::kill(-group, SIGTERM);
    int st = 0;
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(child.pid, &st, WNOHANG) == child.pid) {
        child.pid = -1;
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    ::kill(-group, SIGKILL);  // whatever of the group is left (the destructor reaps the leader)
    if (*aborted == DockerErrorCode::cancelled)
      return docker_error(DockerErrorCode::cancelled, fmt::format("{} cancelled", argv[0]));
    return docker_error(DockerErrorCode::timeout,
                        fmt::format("{} did not finish within {} s", argv[0],
                                    std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
  }
  int st = 0;
  ::waitpid(child.pid, &st, 0);
  child.pid = -1;
  return exit_code_of(st);
}

namespace {

Status run_recipe(const std::string& image, std::string_view node_id,
                  const std::function<void(std::string_view)>& on_progress, const CancelToken* cancel,
                  const BaseImageOptions& options, const DockerClient& client) {
  auto log = core::logger("docker");
  auto script = find_base_images_script();
  // The script that would build the image says what it builds (`--list`); without one, the
  // list this build knows.
  std::vector<std::string> known = recipe_images();
  if (script) {
    std::vector<std::string> listed;
    auto code = run_program(
        {"bash", script->string(), "--list"}, {}, [&](std::string_view line) { listed.emplace_back(line); },
        10s, cancel);
    if (code && *code == 0 && !listed.empty()) known = std::move(listed);
  }
  if (std::find(known.begin(), known.end(), image) == known.end()) {
    return docker_error(
        DockerErrorCode::not_found,
        fmt::format("no local recipe (scripts/base-images.sh) builds {} (recipes: {}); set docker.base_image "
                    "to an image present on this daemon, or make a registry "
                    "reachable for the daemon",
                    image, fmt::join(known, ", ")));
  }
  if (!script) {
    return docker_error(DockerErrorCode::not_found,
                        fmt::format("the local recipe for {} (scripts/base-images.sh) was not "
                                    "found next to this program; set RM_BASE_IMAGES_SCRIPT",
                                    image));
  }
  if (::geteuid() != 0) {
    return docker_error(DockerErrorCode::not_found,
                        fmt::format("{} can be built by the local recipe, which needs root "
                                    "(debootstrap): run `sudo {} {}` once",
                                    image, script->string(), image));
  }
  log->info(
      "node {}: building base image {} with the local recipe {} (debootstrap; the first "
      "build takes minutes, later ones reuse the cached root filesystem)",
      node_id, image, script->string());
  std::deque<std::string> tail;
  const std::string node(node_id);
  auto code = run_program(
      {"bash", script->string(), image}, {{"RM_DOCKER_SOCKET", client.endpoint().socket_path}},
      [&](std::string_view line) {
        log->info("[{} base image] {}", node, line);
        if (on_progress) on_progress(line);
        tail.emplace_back(line);
        if (tail.size() > 10) tail.pop_front();
      },
      options.recipe_timeout, cancel);
  if (!code) {
    auto e = code.error();
    e.message = fmt::format("building base image {}: {}", image, e.message);
    return tl::unexpected(std::move(e));
  }
  if (*code != 0) {
    std::string msg = fmt::format("the local recipe for {} failed (exit code {})", image, *code);
    if (!tail.empty()) msg += "; last lines:\n  " + fmt::format("{}", fmt::join(tail, "\n  "));
    return docker_error(DockerErrorCode::build_failed, std::move(msg));
  }
  return {};
}

}  // namespace

Result<ImageInfo> ensure_base_image(const DockerClient& client, const std::string& image,
                                    std::string_view node_id,
                                    const std::function<void(std::string_view)>& on_progress,
                                    const CancelToken* cancel, BaseImageOptions options) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::shared_ptr<std::mutex>> per_image;
  std::shared_ptr<std::mutex> image_mutex;
  {
    std::lock_guard lock(registry_mutex);
    auto& m = per_image[image];
    if (!m) m = std::make_shared<std::mutex>();
    image_mutex = m;
  }
  std::lock_guard lock(*image_mutex);
  auto log = core::logger("docker");
  auto present = [&]() -> Result<std::optional<ImageInfo>> { return client.image_inspect(image); };
  auto info = present();
  if (!info) return tl::unexpected(info.error());
  if (*info) return **info;

  std::string pull_failure = "pulling is off (RM_DOCKER_PULL=0)";
  if (options.pull) {
    log->info("node {}: base image {} is not on this daemon; pulling it", node_id, image);
    auto pulled = client.image_pull(
        image,
        [&](std::string_view line) {
          log->info("[{} pull] {}", node_id, line);
          if (on_progress) on_progress(line);
        },
        options.pull_timeout, cancel);
    if (pulled) {
      info = present();
      if (!info) return tl::unexpected(info.error());
      if (*info) {
        log->info("node {}: pulled {}", node_id, image);
        return **info;
      }
      pull_failure = "the pull finished but the image is not there";
    } else {
      if (pulled.error().code == DockerErrorCode::cancelled) return tl::unexpected(pulled.error());
      pull_failure = pulled.error().message;
    }
    log->warn("node {}: {}; trying the local recipe", node_id, pull_failure);
  }
  if (auto built = run_recipe(image, node_id, on_progress, cancel, options, client); !built) {
    auto e = built.error();
    if (e.code != DockerErrorCode::cancelled) {
      e.message = fmt::format("base image {} is not present ({}), and {}", image, pull_failure, e.message);
    }
    return tl::unexpected(std::move(e));
  }
  info = present();
  if (!info) return tl::unexpected(info.error());
  if (!*info) {
    return docker_error(DockerErrorCode::build_failed,
                        fmt::format("the local recipe for {} finished but the image is not there", image));
  }
  log->info("node {}: base image {} built by the local recipe", node_id, image);
  return **info;
}

}  // namespace rm::docker
