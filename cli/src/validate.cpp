// `remotemedia validate <manifest> [--explain]`: prints OK or every problem found; --explain
// also prints the resolved graph: each node's kind and contract, each connection's type.
#include <algorithm>
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
  bool explain = false;
};

std::string contract_text(const runtime::NodeSpec& n) {
  if (!n.contract) return "contract reported when it starts";
  return fmt::format("accepts {}; emits {}", runtime::type_list(n.contract->accepts),
                     runtime::type_list(n.contract->emits));
}

std::string explain(const runtime::Manifest& m) {
  std::size_t id_w = 4, type_w = 4;
  for (const auto& n : m.nodes()) {
    id_w = std::max(id_w, n.id.size());
    type_w = std::max(type_w, n.node_type.size());
  }
  std::string out = "nodes:\n";
  for (const auto& n : m.nodes()) {
    out += fmt::format("  {:<{}}  {:<7}  {:<{}}  {}\n", n.id, id_w, runtime::to_string(n.kind), n.node_type,
                       type_w, contract_text(n));
  }
  out += "connections:\n";
  for (const auto& c : m.connections()) {
    const auto* from = m.find_node(c.from);
    const auto* to = m.find_node(c.to);
    std::string type;
    if (!from) {
      type = to->contract ? fmt::format("pipeline input, {} accepts {}", to->id,
                                        runtime::type_list(to->contract->accepts))
                          : "pipeline input";
    } else if (!from->contract || !to->contract) {
      type = !from->contract && !to->contract
                 ? fmt::format("checked when {} and {} start", from->id, to->id)
                 : fmt::format("checked when {} starts", !from->contract ? from->id : to->id);
    } else {
      type = runtime::type_list(runtime::edge_types(*from->contract, *to->contract));
    }
    out += fmt::format("  {} -> {}: {}\n", c.from, c.to, type);
  }
  return out;
}

int cmd_validate(const ValidateOptions& o) {
  auto m = runtime::Manifest::from_file(o.path);
  if (!m) {
    print_issues(m.error());
    return 1;
  }
  print_warnings(*m);
  if (auto p = runnable_problem(*m, o.path); !p.empty()) {
    std::cerr << "error: " << p << '\n';
    return 1;
  }
  std::string name =
      m->metadata().name.empty() ? std::filesystem::path(o.path).stem().string() : m->metadata().name;
  std::cout << fmt::format("OK: {} ({} node{})\n", name, m->nodes().size(),
                           m->nodes().size() == 1 ? "" : "s");
  if (o.explain) std::cout << explain(*m);
  return 0;
}

}  // namespace

Command validate_command() {
  return {"validate", "Check a manifest; prints OK or every problem found", [](CLI::App& sub) -> CommandRun {
            auto o = std::make_shared<ValidateOptions>();
            sub.add_option("manifest", o->path, "Manifest file (.yaml, .yml or .json)")->required();
            sub.add_flag(
                "--explain", o->explain,
                "Also print the resolved graph: each node's kind and contract, each connection's type");
            return [o] { return cmd_validate(*o); };
          }};
}

}  // namespace rm::cli
