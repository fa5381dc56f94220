// `remotemedia shell <manifest> <node-id> [command...]`: the seed's "test container manually"
// step without guessing the mounts. Builds (or reuses) the node's image and creates its
// container exactly as a session would (image, limits, env, the SDK and IPC library, volumes,
// a fresh IPC directory at the same path), but with an interactive shell (or the given command)
// instead of the runner; the session's runner command is printed to try by hand. The terminal
// is attached with `docker start -ai` (the docker CLI, installed with docker.io); the container
// is removed when the shell exits. Exit code: the shell's.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command.hpp"
#include "docker/client.hpp"
#include "docker/docker_node.hpp"
#include "docker/image_builder.hpp"
#include "ipc/channel_names.hpp"
#include "report.hpp"
#include "runtime/manifest.hpp"

namespace rm::cli {
namespace {

namespace fs = std::filesystem;
using namespace docker;

int usage() {
  std::cerr << "usage: remotemedia shell <manifest> <node-id> [command ...]\n"
               "  starts the docker node's container as a session would, with a shell (default\n"
               "  /bin/bash) instead of the runner; the container is removed when it exits\n";
  return 2;
}

int cmd_shell(const std::vector<std::string>& args) {
  if (args.size() < 2) return usage();
  auto m = runtime::Manifest::from_file(args[0]);
  if (!m) {
    print_issues(m.error());
    return 1;
  }
  const runtime::NodeSpec* spec = nullptr;
  std::vector<std::string> docker_ids;
  for (const auto& n : m->nodes()) {
    if (n.id == args[1]) spec = &n;
    if (n.docker) docker_ids.push_back(n.id);
  }
  if (spec == nullptr || !spec->docker) {
    std::cerr << fmt::format(
        "error: {} has no docker node '{}' (docker nodes: {})\n", args[0], args[1],
        docker_ids.empty() ? std::string("none") : fmt::format("{}", fmt::join(docker_ids, ", ")));
    return 1;
  }
  std::random_device rd;
  const std::string session = fmt::format("shell{:08x}", rd());
  auto opts =
      DockerNodeOptions::from_env(spec->id, spec->node_type, session, spec->resolved_params, *spec->docker);
  auto client = DockerClient::connect_from_env();
  if (!client) {
    std::cerr << "error: " << client.error().message << '\n';
    return 1;
  }
  ImageBuilder builder(*client, BuildSettings::from_env());
  auto image = builder.ensure_image(opts.config, opts.node_id,
                                    [](std::string_view line) { std::cerr << "  build: " << line << '\n'; });
  if (!image) {
    std::cerr << "error: " << image.error().message << '\n';
    return 1;
  }
  auto dir = ipc::session_dir(session);
  if (!dir) {
    std::cerr << "error: " << dir.error().message << '\n';
    return 1;
  }
  std::error_code ec;
  fs::create_directories(*dir, ec);
  NodeContainerSpec ns = node_container_spec_for(opts, image->tag, dir->string());
  ns.command = args.size() > 2 ? std::vector<std::string>(args.begin() + 2, args.end())
                               : std::vector<std::string>{"/bin/bash"};
  ns.interactive = true;
  ns.tty = ::isatty(STDIN_FILENO) != 0 && ::isatty(STDOUT_FILENO) != 0;
  ContainerSpec cs = node_container_spec(ns);
  cs.name = fmt::format("rm-shell-{}-{}", spec->id, session.substr(5));
  auto id = client->container_create(cs);
  if (!id) {
    fs::remove_all(*dir, ec);
    std::cerr << "error: " << id.error().message << '\n';
    return 1;
  }
  std::cerr << fmt::format("node {}: container {} from {} (limits {} MB, {} CPU; mounts:", spec->id, cs.name,
                           image->tag, opts.config.resource_limits.memory_mb,
                           opts.config.resource_limits.cpu_cores);
  for (const auto& mt : cs.mounts)
    std::cerr << fmt::format(" {}:{}{}", mt.host_path, mt.container_path, mt.read_only ? ":ro" : "");
  std::cerr << fmt::format(
      ")\na session would run: python3 -m remotemedia.runner --node-type {} --node-id {} "
      "--session-id {} --ipc-dir {}\n",
      spec->node_type, spec->id, session, dir->string());
  int code = 1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execlp("docker", "docker", "start", "-ai", id->c_str(), static_cast<char*>(nullptr));
    std::perror("docker start -ai (the docker CLI, package docker.io)");
    ::_exit(127);
  }
  int st = 0;
  if (pid > 0 && ::waitpid(pid, &st, 0) == pid && WIFEXITED(st)) code = WEXITSTATUS(st);
  (void)client->container_remove(*id, true, true);
  fs::remove_all(*dir, ec);
  return code;
}

}  // namespace

Command shell_command() {
  return raw_args_command(
      "shell", "Start a docker node's container as a session would, with a shell instead of the runner",
      cmd_shell);
}

}  // namespace rm::cli
