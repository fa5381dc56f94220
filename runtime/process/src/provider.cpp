// Registers ProcessNode as the NodeProvider for NodeKind::process, and sweeps stale session
// directories (owner process dead) the first time a process node is built in this process.
#include <mutex>

#include "core/log.hpp"
#include "process/process_node.hpp"
#include "process/session_dir.hpp"

namespace rm::process {

tl::expected<std::unique_ptr<runtime::Node>, runtime::NodeError> make_process_node(
    const runtime::NodeSpec& spec, const runtime::SessionContext& ctx) {
  auto opts = ProcessNodeOptions::from_env(spec.id, spec.node_type, ctx.session_id, spec.resolved_params);
  // Node files beside the manifest are found without any configuration.
  if (!ctx.manifest_dir.empty()) opts.node_path.push_back(ctx.manifest_dir);
  opts.input_capacity = spec.ipc.input_bytes;
  opts.output_capacity = spec.ipc.output_bytes;
  static std::once_flag swept;
  std::call_once(swept, [&] {
    auto r = sweep_stale_sessions(opts.ipc_root);
    if (r.removed)
      core::logger("process")->info("removed {} stale session(s) under {}", r.removed,
                                    opts.ipc_root.string());
  });
  return std::unique_ptr<runtime::Node>(std::make_unique<ProcessNode>(std::move(opts)));
}

}  // namespace rm::process

RM_REGISTER_NODE_PROVIDER(::rm::runtime::NodeKind::process, ::rm::process::make_process_node);
