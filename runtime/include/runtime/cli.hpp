#pragma once
// The `remotemedia` command line (docs/cli.md). apps/remotemedia/main.cpp only calls run_cli;
// the logic lives here so it is tested and reused.
//
//   remotemedia validate <manifest>
//   remotemedia run <manifest> --input NAME=FILE [--realtime] [--output out.jsonl] [--output-dir DIR]
//   remotemedia nodes [--format text|markdown|json]
//
// Exit codes: 0 success, 1 the manifest/input/pipeline failed (message on stderr), 2 usage error.
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "runtime/runtime_data.hpp"

namespace rm::runtime {

int run_cli(int argc, char** argv);

// The registry listing printed by `remotemedia nodes`; format is "text", "markdown" or "json".
std::string describe_nodes(std::string_view format);

// The JSON line `remotemedia run` writes for one output (without the trailing newline's object
// fields for files: `file` is added by the caller when audio is written to --output-dir).
boost::json::object output_record(const std::string& node_id, const RuntimeData& data);

}  // namespace rm::runtime
