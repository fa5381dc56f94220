#pragma once
// The data types a node takes and gives, checked against every connection when the graph is
// built (as MediaPipe checks stream types): an edge whose upstream emits only types the
// downstream does not accept is an error naming both nodes and both type lists.
//
// Native nodes declare their contract in the registry (node.hpp); Python and Docker nodes in
// the manifest (`accepts:` / `emits:` on the node entry) or in their class, which the runner
// reports in its READY handshake. A contract known at validation is checked there; one that is
// only reported at start-up is checked before the session takes its first input.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>
#include <tl/expected.hpp>

#include "runtime/runtime_data.hpp"

namespace rm::runtime {

struct DataContract {
  std::vector<DataType> accepts;  // empty = anything
  std::vector<DataType> emits;    // empty = unknown / anything
};

std::optional<DataType> data_type_from_string(std::string_view name);
// "audio, control", or "any" for an empty list.
std::string type_list(const std::vector<DataType>& types);

// Reads {"accepts": [...], "emits": [...]} (other keys ignored, either list may be absent).
// The error is a sentence naming the bad entry ("accepts[1] \"sound\" is not a data type ...").
tl::expected<DataContract, std::string> contract_from_json(const boost::json::value& v);

// The types that can flow over an edge from `from` into `to`: the emitted types the downstream
// accepts; empty = anything (one side does not restrict).
std::vector<DataType> edge_types(const DataContract& from, const DataContract& to);

// nullopt when the edge can carry data; else why not:
// "connection a -> b: a emits only text, b accepts only audio".
std::optional<std::string> edge_mismatch(std::string_view from_id, const DataContract& from,
                                         std::string_view to_id, const DataContract& to);

}  // namespace rm::runtime
