// Registers DockerNode as the NodeProvider for NodeKind::docker. The first docker node built in
// this process sweeps what a dead owner left behind: containers labelled with an owner process
// that is gone, and session IPC directories whose owner is gone.
#include <mutex>

#include "core/log.hpp"
#include "docker/container_manager.hpp"
#include "docker/docker_node.hpp"
#include "process/session_dir.hpp"

namespace rm::docker {

tl::expected<std::unique_ptr<runtime::Node>, runtime::NodeError> make_docker_node(
    const runtime::NodeSpec& spec, const runtime::SessionContext& ctx) {
  if (!spec.docker)
    return runtime::node_error(runtime::NodeErrorCode::invalid_params,
                               "node " + spec.id + ": a docker node needs a docker: block");
  if (auto keep = keep_containers_from_env(); !keep)
    return runtime::node_error(runtime::NodeErrorCode::invalid_params,
                               "node " + spec.id + ": " + keep.error().message);
  if (auto fallback = docker_fallback_from_env(); !fallback)
    return runtime::node_error(runtime::NodeErrorCode::invalid_params,
                               "node " + spec.id + ": " + fallback.error().message);
  auto opts = DockerNodeOptions::from_env(spec.id, spec.node_type, ctx.session_id, spec.resolved_params,
                                          *spec.docker);
  opts.manifest_dir = ctx.manifest_dir;
  opts.input_capacity = spec.ipc.input_bytes;
  opts.output_capacity = spec.ipc.output_bytes;
  static std::once_flag swept;
  std::call_once(swept, [&] {
    auto log = core::logger("docker");
    auto r = process::sweep_stale_sessions(opts.ipc_root);
    if (r.removed) log->info("removed {} stale session(s) under {}", r.removed, opts.ipc_root.string());
    if (auto c = DockerClient::connect_from_env()) {
      if (auto s = sweep_orphans(*c); !s) log->warn("container sweep failed: {}", s.error().message);
    }
  });
  return std::unique_ptr<runtime::Node>(std::make_unique<DockerNode>(std::move(opts)));
}

}  // namespace rm::docker

RM_REGISTER_NODE_PROVIDER(::rm::runtime::NodeKind::docker, ::rm::docker::make_docker_node);
