#pragma once
#include <string>

#include <tl/expected.hpp>

namespace rm::runtime {

enum class NodeErrorCode {
  invalid_params,  // a parameter has the wrong type or value
  invalid_input,   // input of a type or format the node cannot take
  init_failed,     // initialisation failed (model file missing, library error, ...)
  process_failed,  // processing one input failed
  remote_failed,   // a process or container node died or broke its protocol
  timeout,         // a deadline passed (READY handshake, output, ...)
  cancelled,       // the session is shutting down
};

struct NodeError {
  NodeErrorCode code = NodeErrorCode::process_failed;
  std::string message;  // names the node id and what to do, e.g. "node vad: param ..."
};

using Status = tl::expected<void, NodeError>;

inline tl::unexpected<NodeError> node_error(NodeErrorCode code, std::string message) {
  return tl::unexpected(NodeError{code, std::move(message)});
}

}  // namespace rm::runtime
