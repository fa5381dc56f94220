#pragma once
// Node providers: how the executor builds nodes that do not run in-process.
//
// Native nodes come from the NodeRegistry. For NodeKind::process (Python in a host process) and
// NodeKind::docker (Python in a container) the executor asks the provider that the process /
// docker module registered for that kind. A provider returns a proxy implementing the ordinary
// Node interface, so the graph never knows where a node runs. If no provider is registered the
// session fails to start with an error naming the node and the missing runtime.
//
// Registration: call NodeProviders::instance().set(kind, fn) once at start-up, or use
// RM_REGISTER_NODE_PROVIDER(kind, fn) at namespace scope in the provider's .cpp (works from an
// OBJECT library linked into the program). Thread-safe.
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <tl/expected.hpp>

#include "runtime/manifest.hpp"
#include "runtime/node.hpp"

namespace rm::runtime {

// What a provider knows about the session it builds a node for.
struct SessionContext {
  std::string session_id;              // unique per session, lowercase hex
  std::filesystem::path manifest_dir;  // directory of the manifest file (empty for strings)
  std::string manifest_source;         // file path or "<string>"
};

using NodeProviderFn =
    std::function<tl::expected<std::unique_ptr<Node>, NodeError>(const NodeSpec&, const SessionContext&)>;

class NodeProviders {
 public:
  static NodeProviders& instance();
  // Replaces any provider registered for `kind` (NodeKind::native is served by the registry and
  // cannot be overridden: setting it throws std::logic_error).
  void set(NodeKind kind, NodeProviderFn fn);
  void clear(NodeKind kind);
  // A copy of the provider, or an empty function when none is registered.
  NodeProviderFn get(NodeKind kind) const;

 private:
  mutable std::mutex mutex_;
  NodeProviderFn process_;
  NodeProviderFn docker_;
};

namespace detail {
struct NodeProviderRegistrar {
  NodeProviderRegistrar(NodeKind kind, NodeProviderFn fn) {
    NodeProviders::instance().set(kind, std::move(fn));
  }
};
}  // namespace detail

}  // namespace rm::runtime

#define RM_REGISTER_NODE_PROVIDER(kind, fn)                                                         \
  static const ::rm::runtime::detail::NodeProviderRegistrar rm_node_provider_registrar_##__LINE__ { \
    (kind), (fn)                                                                                    \
  }
