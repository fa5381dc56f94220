#include "runtime/node_provider.hpp"

#include <stdexcept>

namespace rm::runtime {

NodeProviders& NodeProviders::instance() {
  static NodeProviders p;
  return p;
}

void NodeProviders::set(NodeKind kind, NodeProviderFn fn) {
  std::lock_guard lock(mutex_);
  switch (kind) {
    case NodeKind::native:
      throw std::logic_error("native nodes come from the NodeRegistry, not a provider");
    case NodeKind::process:
      process_ = std::move(fn);
      break;
    case NodeKind::docker:
      docker_ = std::move(fn);
      break;
  }
}

void NodeProviders::clear(NodeKind kind) {
  std::lock_guard lock(mutex_);
  if (kind == NodeKind::process) process_ = nullptr;
  if (kind == NodeKind::docker) docker_ = nullptr;
}

NodeProviderFn NodeProviders::get(NodeKind kind) const {
  std::lock_guard lock(mutex_);
  switch (kind) {
    case NodeKind::native:
      return {};
    case NodeKind::process:
      return process_;
    case NodeKind::docker:
      return docker_;
  }
  return {};
}

}  // namespace rm::runtime
