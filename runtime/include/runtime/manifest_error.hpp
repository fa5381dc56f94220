#pragma once
// Errors from loading and validating a manifest. Loading never stops at the first problem:
// a ManifestError carries every problem found, each naming the field path
// ("nodes[1].docker.resource_limits.memory_mb"), the node id when there is one, and the
// source position when known, so `remotemedia validate` can print them all at once.
#include <string>
#include <vector>

namespace rm::runtime {

enum class ManifestErrorCode {
  io,                   // the file cannot be read
  syntax,               // not valid YAML / JSON
  wrong_type,           // a value of the wrong type ("must be a number, got string")
  missing_field,        // a required field is absent
  unsupported_version,  // version is not "v1"
  no_nodes,             // nodes is missing or empty
  duplicate_id,         // two nodes share an id
  unknown_node,         // a connection's `to` names no node
  unknown_node_type,    // neither docker, Python runtime_hint nor a registered native type
  invalid_params,       // native node params rejected by the node's contract
  cycle,                // the connections form a cycle
  invalid_value,        // a value out of its allowed range or set
  missing_path,         // a volume host_path does not exist
  type_mismatch,        // a connection's upstream emits nothing its downstream accepts
};

struct ManifestIssue {
  ManifestErrorCode code = ManifestErrorCode::invalid_value;
  std::string path;     // field path, empty for whole-document problems
  std::string node_id;  // empty when the problem is not about one node
  std::string message;  // a full sentence that starts with the field path
  int line = 0;         // 1-based; 0 = unknown
  int column = 0;       // 1-based; 0 = unknown

  // "<source>:<line>:<col>: error: <message> [node <id>]"
  std::string format(const std::string& source) const;
};

struct ManifestError {
  std::string source;  // file path or "<string>"
  std::vector<ManifestIssue> issues;

  // One line per issue.
  std::string to_string() const;
  bool has(ManifestErrorCode code) const;
};

}  // namespace rm::runtime
