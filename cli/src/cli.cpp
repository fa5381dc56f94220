#include "cli/cli.hpp"

#include <memory>

#include "command.hpp"
#include "core/log.hpp"

namespace rm::cli {

Command raw_args_command(std::string name, std::string description,
                         std::function<int(const std::vector<std::string>& args)> fn) {
  return Command{std::move(name), std::move(description), [fn = std::move(fn)](CLI::App& sub) -> CommandRun {
                   sub.allow_extras();
                   sub.prefix_command();
                   return [&sub, fn] { return fn(sub.remaining()); };
                 }};
}

int run_cli(int argc, char** argv) {
  core::init_logging("remotemedia");
  CLI::App app{"remotemedia: run and check streaming media pipelines declared in a manifest"};
  app.require_subcommand(1);

  std::vector<std::pair<CLI::App*, CommandRun>> commands;
#define RM_CLI_ADD_COMMAND(cmd)                                \
  {                                                            \
    Command c = cmd##_command();                               \
    CLI::App* sub = app.add_subcommand(c.name, c.description); \
    commands.emplace_back(sub, c.setup(*sub));                 \
  }
  RM_CLI_COMMANDS(RM_CLI_ADD_COMMAND)
#undef RM_CLI_ADD_COMMAND

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  for (auto& [sub, run] : commands)
    if (sub->parsed()) return run();
  return 2;
}

}  // namespace rm::cli
