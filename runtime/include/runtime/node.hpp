#pragma once
// The node interface every pipeline node implements, wherever it runs (in-process C++,
// a Python host process, a Python node in a container). The executor only sees this.
//
// Lifecycle (each step runs at most once, in this order, on the node's own actor thread):
//   construct (factory, with validated params) -> initialize() -> process()* -> flush() -> close()
// - initialize() may block (load a model, start a process, wait for READY).
// - process() is called for every input in arrival order; it may emit zero or more outputs
//   through the Emitter, and may block on emit() when a downstream queue is full
//   (backpressure). It is never called concurrently with itself or any other method of the
//   same instance, so nodes need no locking of their own state ("thread-compatible").
// - flush() runs when end-of-stream has arrived on every input of the node: emit whatever is
//   buffered. The executor forwards end-of-stream itself afterwards; nodes do not emit it.
// - close() always runs, also after an error, and must release every resource.
// An error returned from any step ends the session with that error (the message names the node).
// - abort() is the one call that comes from another thread, at any time (also while
//   initialize() blocks): the session was cancelled or another node failed. A node whose steps
//   can block for long (image builds, pulls, container start, waiting for READY) makes them
//   return within a second; the executor then runs close() as usual. Must be thread-safe.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "runtime/contract.hpp"
#include "runtime/node_error.hpp"
#include "runtime/runtime_data.hpp"

namespace rm::runtime {

enum class ParamType { boolean, integer, number, string, string_list, object, any };
std::string_view to_string(ParamType t);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::any;
  boost::json::value default_value;  // null = required
  std::string description;
  // Optional numeric bounds (inclusive), checked at validation time.
  std::optional<double> min;
  std::optional<double> max;
  // Optional set of allowed values for strings / string lists.
  std::vector<std::string> choices;
  bool required() const { return default_value.is_null(); }
};

// What a node declares about itself, checked when the graph is built (not while it runs).
struct NodeContract {
  std::string node_type;
  std::string description;
  std::vector<DataType> accepts;  // empty = anything
  std::vector<DataType> emits;    // empty = unknown / anything
  std::vector<ParamSpec> params;
};

// Everything a node needs to be built: its id and session, and params already validated and
// completed with defaults against the node's contract.
struct NodeInit {
  std::string node_id;
  std::string session_id;
  boost::json::object params;
};

// Where a node sends its outputs. emit() blocks while a downstream queue is full and returns
// an error once the session is cancelled; nodes should return that error.
class Emitter {
 public:
  virtual ~Emitter() = default;
  virtual Status emit(DataPtr data) = 0;
};

// Why a session aborts its nodes.
enum class AbortReason { cancelled, node_failed };

class Node {
 public:
  virtual ~Node() = default;
  virtual void abort(AbortReason) {}
  virtual Status initialize() { return {}; }
  virtual Status process(const DataPtr& input, Emitter& out) = 0;
  virtual Status flush(Emitter&) { return {}; }
  virtual void close() {}
  // The contract the node reported once initialize() returned ({"accepts": [...], "emits":
  // [...]}, the READY handshake of Python nodes), null if it reported none. The session checks
  // it against the node's connections before it takes its first input (contract.hpp).
  virtual boost::json::value reported_contract() const { return nullptr; }
};

// Typed access to validated params (they are complete and of the declared type).
double param_number(const boost::json::object& params, std::string_view name);
std::int64_t param_int(const boost::json::object& params, std::string_view name);
bool param_bool(const boost::json::object& params, std::string_view name);
std::string param_string(const boost::json::object& params, std::string_view name);
std::vector<std::string> param_strings(const boost::json::object& params, std::string_view name);

}  // namespace rm::runtime
