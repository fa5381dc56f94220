#pragma once
// The `remotemedia` command line (docs/cli.md). apps/remotemedia/main.cpp only calls run_cli;
// the logic lives here so it is tested and reused.
//
//   remotemedia validate <manifest>
//   remotemedia run <manifest> --input NAME=FILE [--realtime] [--output out.jsonl] [--output-dir DIR]
//   remotemedia nodes [--format text|markdown|json]
//
// Exit codes: 0 success, 1 the manifest/input/pipeline failed (message on stderr), 2 usage error.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "runtime/runtime_data.hpp"

namespace rm::runtime {

int run_cli(int argc, char** argv);

// Subcommands contributed by modules above runtime/ (e.g. runtime/docker: cleanup, doctor,
// images). The function gets the words after the subcommand name and returns the exit code.
// Register at start-up (RM_REGISTER_CLI_COMMAND at namespace scope in an OBJECT library).
using CliCommandFn = std::function<int(const std::vector<std::string>& args)>;
void register_cli_command(std::string name, std::string description, CliCommandFn fn);

namespace detail {
struct CliCommandRegistrar {
  CliCommandRegistrar(std::string name, std::string description, CliCommandFn fn) {
    register_cli_command(std::move(name), std::move(description), std::move(fn));
  }
};
}  // namespace detail

// The registry listing printed by `remotemedia nodes`; format is "text", "markdown" or "json".
std::string describe_nodes(std::string_view format);

// The JSON line `remotemedia run` writes for one output (without the trailing newline's object
// fields for files: `file` is added by the caller when audio is written to --output-dir).
boost::json::object output_record(const std::string& node_id, const RuntimeData& data);

}  // namespace rm::runtime

#define RM_CLI_CONCAT_INNER(a, b) a##b
#define RM_CLI_CONCAT(a, b) RM_CLI_CONCAT_INNER(a, b)
#define RM_REGISTER_CLI_COMMAND(name, description, fn)                                  \
  static const ::rm::runtime::detail::CliCommandRegistrar RM_CLI_CONCAT(rm_cli_command_, \
                                                                        __LINE__) {      \
    (name), (description), (fn)                                                          \
  }
