// PassThrough: forwards every input unchanged. The output is the very same DataPtr (no copy),
// which makes it the reference node for measuring the executor's per-hop cost.
#include "runtime/node_registry.hpp"

namespace rm::nodes {
namespace {

using namespace rm::runtime;

class PassThrough final : public Node {
 public:
  explicit PassThrough(const NodeInit&) {}
  Status process(const DataPtr& input, Emitter& out) override { return out.emit(input); }
};

NodeContract pass_through_contract() {
  return NodeContract{
      .node_type = "PassThrough",
      .description =
          "Forwards every input unchanged, of any type, as the same shared value without copying it. "
          "Useful as a placeholder, a fan-out point, and to measure the cost of one pipeline hop.",
      .accepts = {},
      .emits = {},
      .params = {},
  };
}

RM_REGISTER_NODE(PassThrough, pass_through_contract());

}  // namespace
}  // namespace rm::nodes
