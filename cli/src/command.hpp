#pragma once
// One subcommand of `remotemedia`. Adding one is a new file cli/src/<name>.cpp defining
// `Command <name>_command()` plus its line in RM_CLI_COMMANDS below.
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace rm::cli {

// Runs a parsed subcommand; returns the exit code.
using CommandRun = std::function<int()>;

struct Command {
  std::string name;
  std::string description;
  // Declares the subcommand's options and arguments on `sub`; the returned function runs it
  // once the command line has been parsed into them.
  std::function<CommandRun(CLI::App& sub)> setup;
};

// A subcommand that reads the words after its name itself (its own usage message, exit 2).
Command raw_args_command(std::string name, std::string description,
                         std::function<int(const std::vector<std::string>& args)> fn);

// Every subcommand, in the order `remotemedia --help` lists them.
#define RM_CLI_COMMANDS(X) \
  X(validate)              \
  X(run)                   \
  X(nodes)                 \
  X(doctor)                \
  X(cleanup)               \
  X(images)                \
  X(shell)                 \
  X(serve)                 \
  X(stream)

#define RM_CLI_DECLARE_COMMAND(cmd) Command cmd##_command();
RM_CLI_COMMANDS(RM_CLI_DECLARE_COMMAND)
#undef RM_CLI_DECLARE_COMMAND

}  // namespace rm::cli
