// Node entries of a manifest: id, type, params, flags, the kind the node runs as, and for
// native nodes the params checked against the registered contract.
#include <map>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <boost/json/object.hpp>

#include "detail/manifest_parser.hpp"
#include "runtime/node_registry.hpp"

namespace rm::runtime {

using namespace detail;

namespace {

bool is_python_hint(std::string_view hint) {
  return hint == "cpython" || hint == "python" || hint == "multiprocess";
}

}  // namespace

void ManifestParser::parse_nodes(const YAML::Node& root) {
  YAML::Node nodes = root["nodes"];
  if (!nodes.IsDefined() || scalar_is_null(nodes)) {
    add_at(root, ManifestErrorCode::no_nodes, "nodes", "",
           "nodes is missing: a pipeline needs at least one node");
    return;
  }
  if (!nodes.IsSequence()) {
    add_at(nodes, ManifestErrorCode::wrong_type, "nodes", "",
           fmt::format("nodes must be a list, got {}", describe(nodes)));
    return;
  }
  if (nodes.size() == 0) {
    add_at(nodes, ManifestErrorCode::no_nodes, "nodes", "",
           "nodes is empty: a pipeline needs at least one node");
    return;
  }
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto spec = parse_node(nodes[i], fmt::format("nodes[{}]", i));
    if (!spec) continue;
    if (!spec->id.empty()) {
      auto [it, fresh] = seen.emplace(spec->id, i);
      if (!fresh) {
        add_at(nodes[i]["id"], ManifestErrorCode::duplicate_id, fmt::format("nodes[{}].id", i), spec->id,
               fmt::format("nodes[{}].id \"{}\" is already used by nodes[{}]; node ids must be unique", i,
                           spec->id, it->second));
        continue;
      }
    }
    m_.nodes_.push_back(std::move(*spec));
  }
}

std::optional<NodeSpec> ManifestParser::parse_node(const YAML::Node& n, const std::string& path) {
  if (!n.IsMap()) {
    add_at(n, ManifestErrorCode::wrong_type, path, "",
           fmt::format("{} must be a mapping, got {}", path, describe(n)));
    return std::nullopt;
  }
  NodeSpec spec;
  spec.line = n.Mark().is_null() ? 0 : n.Mark().line + 1;
  auto id = get_string(n, "id", path + ".id", "", true, n);
  if (id) {
    if (id->empty()) {
      add_at(n["id"], ManifestErrorCode::invalid_value, path + ".id", "",
             fmt::format("{}.id must not be empty", path));
    }
    spec.id = *id;
  }
  const std::string& nid = spec.id;
  auto type = get_string(n, "node_type", path + ".node_type", nid, true, n);
  if (type) spec.node_type = *type;
  spec.params = to_json(n["params"]);
  if (auto b = get_bool(n, "is_streaming", path + ".is_streaming", nid)) spec.is_streaming = *b;
  if (auto b = get_bool(n, "is_output_node", path + ".is_output_node", nid)) spec.is_output_node = *b;
  if (auto h = get_string(n, "runtime_hint", path + ".runtime_hint", nid, false, n)) spec.runtime_hint = *h;
  static const std::set<std::string> known = {"id",           "node_type",      "params", "is_streaming",
                                              "runtime_hint", "is_output_node", "docker", "ipc",
                                              "accepts",      "emits"};
  for (const auto& kv : n) {
    if (!known.count(kv.first.Scalar())) {
      m_.warnings_.push_back(fmt::format("{}: {} (node {}): unknown key '{}' is ignored", m_.source_, path,
                                         nid, kv.first.Scalar()));
    }
  }
  YAML::Node d = n["docker"];
  if (d.IsDefined() && !scalar_is_null(d)) {
    spec.kind = NodeKind::docker;
    spec.docker = parse_docker(d, path + ".docker", nid);
  } else if (is_python_hint(spec.runtime_hint)) {
    spec.kind = NodeKind::process;
  } else {
    spec.kind = NodeKind::native;
  }
  parse_ipc(n["ipc"], path + ".ipc", nid, spec);
  if (!spec.params.is_null() && !spec.params.is_object() && spec.kind != NodeKind::native) {
    add_at(n["params"], ManifestErrorCode::wrong_type, path + ".params", nid,
           fmt::format("{}.params must be a mapping, got {}", path, describe(n["params"])));
  }
  if (spec.kind != NodeKind::native) {
    if (spec.params.is_object()) spec.resolved_params = spec.params.get_object();
  } else if (type) {
    const auto* reg = NodeRegistry::instance().find(spec.node_type);
    if (!reg) {
      add_at(n["node_type"], ManifestErrorCode::unknown_node_type, path + ".node_type", nid,
             fmt::format(
                 "{}.node_type \"{}\" is not a native node type; give the node a docker block or "
                 "runtime_hint: cpython to run it as a Python node (`remotemedia nodes` lists native types)",
                 path, spec.node_type));
    } else {
      auto p = NodeRegistry::instance().validate_params(reg->contract, nid, spec.params);
      if (!p) {
        std::string msg = p.error().message;
        auto prefix = fmt::format("node {}: ", nid);
        if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
        // The registry says "params.x must be ..."; prefix the node's path so the field is exact.
        add_at(n["params"].IsDefined() ? n["params"] : n, ManifestErrorCode::invalid_params, path + ".params",
               nid,
               msg.rfind("params", 0) == 0 ? fmt::format("{}.{}", path, msg)
                                           : fmt::format("{}.params: {}", path, msg));
      } else {
        spec.resolved_params = std::move(*p);
      }
    }
  }
  parse_contract(n, path, spec);
  return spec;
}

void ManifestParser::parse_ipc(const YAML::Node& v, const std::string& path, const std::string& nid,
                               NodeSpec& spec) {
  if (!v.IsDefined() || scalar_is_null(v)) return;
  if (spec.kind == NodeKind::native) {
    add_at(
        v, ManifestErrorCode::invalid_value, path, nid,
        fmt::format("{} sets channel sizes, which only Python nodes (docker block or runtime_hint: cpython) "
                    "have",
                    path));
    return;
  }
  if (!v.IsMap()) {
    add_at(
        v, ManifestErrorCode::wrong_type, path, nid,
        fmt::format("{} must be a mapping with input_bytes and/or output_bytes, got {}", path, describe(v)));
    return;
  }
  constexpr std::uint64_t kMin = 4096, kMax = 1ULL << 32;
  for (const auto& kv : v) {
    const std::string key = kv.first.Scalar();
    std::uint64_t* out = key == "input_bytes"    ? &spec.ipc.input_bytes
                         : key == "output_bytes" ? &spec.ipc.output_bytes
                                                 : nullptr;
    if (out == nullptr) {
      add_at(kv.first, ManifestErrorCode::invalid_value, path + "." + key, nid,
             fmt::format("{}: unknown key '{}' (use input_bytes, output_bytes)", path, key));
      continue;
    }
    if (auto b = get_uint(kv.second, path + "." + key, nid)) {
      if (*b < kMin || *b > kMax) {
        add_at(kv.second, ManifestErrorCode::invalid_value, path + "." + key, nid,
               fmt::format("{}.{} = {} is outside {} .. {} bytes", path, key, *b, kMin, kMax));
      }
      *out = *b;
    }
  }
}

void ManifestParser::parse_contract(const YAML::Node& n, const std::string& path, NodeSpec& spec) {
  const bool given = (n["accepts"].IsDefined() && !scalar_is_null(n["accepts"])) ||
                     (n["emits"].IsDefined() && !scalar_is_null(n["emits"]));
  if (spec.kind == NodeKind::native) {
    if (const auto* reg = NodeRegistry::instance().find(spec.node_type)) {
      spec.contract = DataContract{reg->contract.accepts, reg->contract.emits};
    }
    if (given) {
      m_.warnings_.push_back(
          fmt::format("{}: {} (node {}): accepts/emits are ignored on a native node; its "
                      "registered contract applies (`remotemedia nodes`)",
                      m_.source_, path, spec.id));
    }
    return;
  }
  if (!given) return;
  boost::json::object o;
  o["accepts"] = to_json(n["accepts"]);
  o["emits"] = to_json(n["emits"]);
  auto c = contract_from_json(o);
  if (!c) {
    const std::string key = c.error().rfind("accepts", 0) == 0 ? "accepts" : "emits";
    add_at(n[key].IsDefined() ? n[key] : n, ManifestErrorCode::invalid_value, path + "." + key, spec.id,
           fmt::format("{}.{}", path, c.error()));
    return;
  }
  spec.contract = std::move(*c);
}

}  // namespace rm::runtime
