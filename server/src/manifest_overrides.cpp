#include "manifest_overrides.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace rm::server::detail {

namespace json = boost::json;

namespace {

// Writes `n` back as YAML that reads the same: scalars quoted in the source stay quoted
// (a quoted "true" is a string), plain ones stay plain (a plain 0.5 is a number).
void emit(YAML::Emitter& out, const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& kv : n) {
        out << YAML::Key;
        emit(out, kv.first);
        out << YAML::Value;
        emit(out, kv.second);
      }
      out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& e : n) emit(out, e);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar:
      if (n.Tag() == "!")
        out << YAML::DoubleQuoted << n.Scalar();
      else
        out << n.Scalar();
      return;
    default:
      out << YAML::Null;
      return;
  }
}

// A checked value as a YAML node (ParamSpec types only: numbers, strings, booleans).
YAML::Node to_yaml(const json::value& v) {
  if (v.is_bool()) return YAML::Node(v.get_bool() ? "true" : "false");
  if (v.is_int64()) return YAML::Node(std::to_string(v.get_int64()));
  if (v.is_uint64()) return YAML::Node(std::to_string(v.get_uint64()));
  if (v.is_double()) return YAML::Node(fmt::format("{}", v.get_double()));
  YAML::Node s(std::string(v.is_string() ? std::string_view(v.get_string()) : std::string_view()));
  s.SetTag("!");
  return s;
}

}  // namespace

tl::expected<runtime::Manifest, std::string> manifest_with_params(const std::string& text,
                                                                  const std::filesystem::path& base_dir,
                                                                  const std::vector<ParamOverride>& params) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return tl::unexpected(fmt::format("the served manifest no longer parses: {}", e.what()));
  }
  YAML::Node nodes = root["nodes"];
  for (const auto& p : params) {
    bool found = false;
    for (std::size_t i = 0; i < nodes.size() && !found; ++i) {
      YAML::Node node = nodes[i];
      if (!node["id"] || node["id"].Scalar() != p.node) continue;
      found = true;
      if (!node["params"] || !node["params"].IsMap()) node["params"] = YAML::Node(YAML::NodeType::Map);
      node["params"][p.key] = to_yaml(p.value);
    }
    if (!found)
      return tl::unexpected(fmt::format("session param '{}.{}': no node '{}'", p.node, p.key, p.node));
  }
  YAML::Emitter out;
  emit(out, root);
  auto m = runtime::Manifest::from_string(out.c_str(), runtime::ManifestFormat::yaml, base_dir);
  if (!m) {
    std::string msg;
    for (const auto& i : m.error().issues) {
      if (!msg.empty()) msg += "; ";
      msg += i.node_id.empty() ? i.message : fmt::format("node {}: {}", i.node_id, i.message);
    }
    return tl::unexpected(msg.empty() ? std::string("the manifest does not validate with these params")
                                      : msg);
  }
  return std::move(*m);
}

}  // namespace rm::server::detail
