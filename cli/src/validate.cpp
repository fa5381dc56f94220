// `remotemedia validate <manifest>`: prints OK or every problem found.
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "command.hpp"
#include "report.hpp"
#include "runtime/manifest.hpp"

namespace rm::cli {
namespace {

struct ValidateOptions {
  std::string path;
};

int cmd_validate(const ValidateOptions& o) {
  auto m = runtime::Manifest::from_file(o.path);
  if (!m) {
    print_issues(m.error());
    return 1;
  }
  print_warnings(*m);
  std::string name =
      m->metadata().name.empty() ? std::filesystem::path(o.path).stem().string() : m->metadata().name;
  std::cout << fmt::format("OK: {} ({} node{})\n", name, m->nodes().size(),
                           m->nodes().size() == 1 ? "" : "s");
  return 0;
}

}  // namespace

Command validate_command() {
  return {"validate", "Check a manifest; prints OK or every problem found", [](CLI::App& sub) -> CommandRun {
            auto o = std::make_shared<ValidateOptions>();
            sub.add_option("manifest", o->path, "Manifest file (.yaml, .yml or .json)")->required();
            return [o] { return cmd_validate(*o); };
          }};
}

}  // namespace rm::cli
