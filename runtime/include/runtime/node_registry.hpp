#pragma once
// Registry of native (in-process C++) node types. Each node registers itself next to its
// definition with RM_REGISTER_NODE; `remotemedia nodes` and docs/nodes.md are generated from
// the registry. Python and Docker nodes are not registered here: the executor creates their
// proxies through a NodeProvider (see executor), which implement the same Node interface.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "runtime/node.hpp"

namespace rm::runtime {

using NodeFactory = std::function<tl::expected<std::unique_ptr<Node>, NodeError>(const NodeInit&)>;

struct NodeRegistration {
  NodeContract contract;
  NodeFactory factory;
};

class NodeRegistry {
 public:
  static NodeRegistry& instance();

  // Registering the same node_type twice throws std::logic_error (a programming error).
  void add(NodeContract contract, NodeFactory factory);
  const NodeRegistration* find(std::string_view node_type) const;
  // Sorted by node_type.
  std::vector<const NodeRegistration*> list() const;

  // Checks `params` against the contract: unknown keys, wrong types, bounds, choices, missing
  // required params; returns the params completed with defaults. Errors name the node id,
  // the param and what was expected: "node vad: params.threshold must be a number, got string".
  tl::expected<boost::json::object, NodeError> validate_params(const NodeContract& contract,
                                                               std::string_view node_id,
                                                               const boost::json::value& params) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, NodeRegistration, std::less<>> entries_;
};

namespace detail {
struct NodeRegistrar {
  NodeRegistrar(NodeContract contract, NodeFactory factory) {
    NodeRegistry::instance().add(std::move(contract), std::move(factory));
  }
};
}  // namespace detail

}  // namespace rm::runtime

// Registers a native node type. `contract_fn` is an expression yielding a NodeContract and
// `Class` must be constructible from (const NodeInit&). Use at namespace scope in the node's .cpp.
#define RM_REGISTER_NODE(Class, contract_expr)                                                \
  static const ::rm::runtime::detail::NodeRegistrar rm_node_registrar_##Class {               \
    (contract_expr),                                                                          \
        [](const ::rm::runtime::NodeInit& init)                                               \
            -> tl::expected<std::unique_ptr<::rm::runtime::Node>, ::rm::runtime::NodeError> { \
          try {                                                                               \
            return std::unique_ptr<::rm::runtime::Node>(std::make_unique<Class>(init));       \
          } catch (const std::exception& e) {                                                 \
            return ::rm::runtime::node_error(::rm::runtime::NodeErrorCode::invalid_params,    \
                                             "node " + init.node_id + ": " + e.what());       \
          }                                                                                   \
        }                                                                                     \
  }
