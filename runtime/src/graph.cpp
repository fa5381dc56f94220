// The graph a manifest declares: cycles, named inputs, outputs, topological order.
#include <algorithm>
#include <functional>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "detail/manifest_parser.hpp"

namespace rm::runtime {

std::optional<std::vector<std::string>> detail::find_cycle(const Manifest& m) {
  std::map<std::string, std::vector<std::string>> succ;
  for (const auto& c : m.connections()) {
    if (m.find_node(c.from)) succ[c.from].push_back(c.to);
  }
  std::map<std::string, int> state;  // 0 new, 1 on stack, 2 done
  std::vector<std::string> stack;
  std::optional<std::vector<std::string>> cycle;
  std::function<void(const std::string&)> dfs = [&](const std::string& id) {
    if (cycle) return;
    state[id] = 1;
    stack.push_back(id);
    for (const auto& s : succ[id]) {
      if (cycle) return;
      if (state[s] == 1) {
        auto it = std::find(stack.begin(), stack.end(), s);
        std::vector<std::string> cyc(it, stack.end());
        cyc.push_back(s);
        cycle = std::move(cyc);
        return;
      }
      if (state[s] == 0) dfs(s);
    }
    stack.pop_back();
    state[id] = 2;
  };
  for (const auto& n : m.nodes()) {
    if (state[n.id] == 0) dfs(n.id);
    if (cycle) break;
  }
  return cycle;
}

void ManifestParser::check_graph() {
  if (auto cycle = detail::find_cycle(m_)) {
    add(ManifestErrorCode::cycle, "connections", cycle->front(),
        fmt::format("connections form a cycle: {}; a pipeline must be acyclic", fmt::join(*cycle, " -> ")));
  }
}

const NodeSpec* Manifest::find_node(std::string_view id) const {
  for (const auto& n : nodes_)
    if (n.id == id) return &n;
  return nullptr;
}

std::vector<std::string> Manifest::inputs() const {
  std::vector<std::string> out;
  for (const auto& c : connections_) {
    if (!find_node(c.from) && std::find(out.begin(), out.end(), c.from) == out.end()) out.push_back(c.from);
  }
  return out;
}

std::vector<std::string> Manifest::outputs() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) {
    bool has_out = std::any_of(connections_.begin(), connections_.end(),
                               [&](const Connection& c) { return c.from == n.id; });
    if (n.is_output_node || !has_out) out.push_back(n.id);
  }
  return out;
}

std::vector<std::string> Manifest::topological_order() const {
  std::map<std::string, int> indeg;
  for (const auto& n : nodes_) indeg[n.id] = 0;
  for (const auto& c : connections_)
    if (find_node(c.from)) ++indeg[c.to];
  std::vector<std::string> order;
  std::vector<std::string> ready;
  for (const auto& n : nodes_)
    if (indeg[n.id] == 0) ready.push_back(n.id);
  while (!ready.empty()) {
    auto id = ready.front();
    ready.erase(ready.begin());
    order.push_back(id);
    for (const auto& c : connections_) {
      if (c.from == id && --indeg[c.to] == 0) ready.push_back(c.to);
    }
  }
  return order;
}

}  // namespace rm::runtime
