#pragma once
// Manifest v1: the declaration of a pipeline (docs/manifest.md).
//
//   version: "v1"
//   metadata: {name, description, ...}
//   nodes: [{id, node_type, params, is_streaming, runtime_hint, is_output_node, docker{...}}]
//   connections: [{from, to}]
//
// Loading validates everything that can be checked before a node starts: structure and types,
// ids, connections, cycles, node types (native ones against their registered contract, so
// their params come out completed with defaults), docker blocks, and every connection against
// the data types its two nodes declare (contract.hpp). A `from` that names no node
// is a named pipeline input; outputs are nodes with no outgoing edge or `is_output_node`.
// Python class names (process and docker nodes) are checked when the node starts.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <tl/expected.hpp>

#include "runtime/contract.hpp"
#include "runtime/docker_config.hpp"
#include "runtime/manifest_error.hpp"

namespace rm::runtime {

// Where a node runs. docker: has a docker block (whatever its runtime_hint); process: a Python
// node in a host process (runtime_hint cpython/python/multiprocess, or a type that is not a
// registered native type); native: an in-process C++ node from the NodeRegistry.
enum class NodeKind { native, process, docker };
std::string_view to_string(NodeKind k);

enum class ManifestFormat { yaml, json, detect };

// Shared-memory channel sizes of a Python node (process or docker), from the node's
// `ipc: {input_bytes, output_bytes}`; 0 = the default (RM_PROCESS_CHANNEL_BYTES, 4 MiB). The
// largest value that fits is a little less than the size (record header and alignment).
struct IpcSizes {
  std::uint64_t input_bytes = 0;   // host -> node
  std::uint64_t output_bytes = 0;  // node -> host
};

struct NodeSpec {
  std::string id;
  std::string node_type;
  boost::json::value params;  // as written (null if absent)
  // Native nodes: params validated against the contract and completed with defaults.
  // Other kinds: params as written if they were a mapping, else empty.
  boost::json::object resolved_params;
  bool is_streaming = false;
  std::string runtime_hint;  // as written, may be empty
  bool is_output_node = false;
  std::optional<DockerConfig> docker;
  IpcSizes ipc;
  NodeKind kind = NodeKind::native;
  // The data types the node takes and gives, when known at validation: native nodes from the
  // registry; Python and Docker nodes from `accepts` / `emits` in the manifest, else nullopt
  // (then checked when the node reports its contract at start-up).
  std::optional<DataContract> contract;
  int line = 0;  // source line of the node entry, 0 if unknown
};

struct Connection {
  std::string from;
  std::string to;
};

struct Metadata {
  std::string name;
  std::string description;
  boost::json::object extra;  // every other metadata key, kept as written
};

class Manifest {
 public:
  static tl::expected<Manifest, ManifestError> from_file(const std::filesystem::path& path);
  // `base_dir` resolves relative volume paths (default: the current directory).
  static tl::expected<Manifest, ManifestError> from_string(std::string_view text,
                                                           ManifestFormat format = ManifestFormat::detect,
                                                           std::filesystem::path base_dir = {});

  const std::string& version() const { return version_; }
  const Metadata& metadata() const { return metadata_; }
  const std::vector<NodeSpec>& nodes() const { return nodes_; }
  const std::vector<Connection>& connections() const { return connections_; }
  // Non-fatal findings (unknown top-level keys, ...), one sentence each.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // File path or "<string>".
  const std::string& source() const { return source_; }

  const NodeSpec* find_node(std::string_view id) const;
  // Named pipeline inputs (`from` values that name no node), in order of first appearance.
  std::vector<std::string> inputs() const;
  // Ids of output nodes, in node order.
  std::vector<std::string> outputs() const;
  // Node ids in an order where every node comes after all of its upstream nodes.
  std::vector<std::string> topological_order() const;

 private:
  friend class ManifestParser;
  std::string version_;
  Metadata metadata_;
  std::vector<NodeSpec> nodes_;
  std::vector<Connection> connections_;
  std::vector<std::string> warnings_;
  std::string source_;
};

}  // namespace rm::runtime
