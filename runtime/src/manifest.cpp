#include "runtime/manifest.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>
#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>

#include "detail/manifest_parser.hpp"

namespace rm::runtime {

using namespace detail;
namespace json = boost::json;

std::string_view to_string(NodeKind k) {
  switch (k) {
    case NodeKind::native:
      return "native";
    case NodeKind::process:
      return "process";
    case NodeKind::docker:
      return "docker";
  }
  return "native";
}

std::string ManifestIssue::format(const std::string& source) const {
  std::string out = source;
  if (line > 0) out += fmt::format(":{}:{}", line, column);
  out += ": error: " + message;
  if (!node_id.empty()) out += fmt::format(" [node {}]", node_id);
  return out;
}

std::string ManifestError::to_string() const {
  std::string out;
  for (const auto& i : issues) {
    out += i.format(source);
    out += '\n';
  }
  return out;
}

bool ManifestError::has(ManifestErrorCode code) const {
  return std::any_of(issues.begin(), issues.end(), [&](const ManifestIssue& i) { return i.code == code; });
}

ManifestParser::ManifestParser(std::string source, std::filesystem::path base_dir)
    : base_dir_(std::move(base_dir)) {
  m_.source_ = std::move(source);
  err_.source = m_.source_;
}

tl::expected<Manifest, ManifestError> ManifestParser::parse_text(std::string_view text,
                                                                 ManifestFormat format) {
  if (format == ManifestFormat::detect) {
    auto first = text.find_first_not_of(" \t\r\n");
    format =
        (first != std::string_view::npos && text[first] == '{') ? ManifestFormat::json : ManifestFormat::yaml;
  }
  YAML::Node root;
  if (format == ManifestFormat::json) {
    json::stream_parser p;
    boost::system::error_code ec;
    std::size_t used = p.write(text.data(), text.size(), ec);
    if (!ec) p.finish(ec);
    if (ec) {
      auto [line, col] = position_of(text, used);
      add(ManifestErrorCode::syntax, "", "", fmt::format("invalid JSON: {}", ec.message()), line, col);
      return tl::unexpected(err_);
    }
    json::value doc = p.release();
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception&) {
      root = from_json(doc);
    }
  } else {
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      add(ManifestErrorCode::syntax, "", "", fmt::format("invalid YAML: {}", e.msg), e.mark.line + 1,
          e.mark.column + 1);
      return tl::unexpected(err_);
    } catch (const YAML::Exception& e) {
      add(ManifestErrorCode::syntax, "", "", fmt::format("invalid YAML: {}", e.what()));
      return tl::unexpected(err_);
    }
  }
  try {
    parse_document(root);
  } catch (const std::exception& e) {
    // yaml-cpp throws on shapes it cannot convert (e.g. a mapping used as a key); report it
    // like any other problem instead of letting it escape.
    add(ManifestErrorCode::syntax, "", "", fmt::format("unsupported YAML structure: {}", e.what()));
  }
  if (!err_.issues.empty()) return tl::unexpected(err_);
  return std::move(m_);
}

void ManifestParser::parse_document(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull()) {
    add(ManifestErrorCode::no_nodes, "", "",
        "the manifest is empty (expected version, metadata, nodes, connections)");
    return;
  }
  if (!root.IsMap()) {
    add_at(root, ManifestErrorCode::wrong_type, "", "",
           fmt::format("the manifest must be a mapping with version, nodes and connections, got {}",
                       describe(root)));
    return;
  }
  static const std::set<std::string> known = {"version", "metadata", "nodes", "connections"};
  for (const auto& kv : root) {
    auto key = kv.first.Scalar();
    if (!known.count(key)) {
      int line = kv.first.Mark().is_null() ? 0 : kv.first.Mark().line + 1;
      m_.warnings_.push_back(
          line ? fmt::format("{}:{}: unknown top-level key '{}' is ignored", m_.source_, line, key)
               : fmt::format("{}: unknown top-level key '{}' is ignored", m_.source_, key));
    }
  }
  // version
  YAML::Node v = root["version"];
  if (!v.IsDefined() || scalar_is_null(v)) {
    add_at(root, ManifestErrorCode::missing_field, "version", "", "version is required (use \"v1\")");
  } else if (!v.IsScalar()) {
    add_at(v, ManifestErrorCode::wrong_type, "version", "",
           fmt::format("version must be a string, got {}", describe(v)));
  } else if (v.Scalar() != "v1") {
    add_at(v, ManifestErrorCode::unsupported_version, "version", "",
           fmt::format("version \"{}\" is not supported (supported: \"v1\")", v.Scalar()));
  } else {
    m_.version_ = v.Scalar();
  }
  parse_metadata(root["metadata"]);
  parse_nodes(root);
  parse_connections(root["connections"]);
  if (err_.issues.empty()) check_graph();
}

void ManifestParser::parse_metadata(const YAML::Node& md) {
  if (!md.IsDefined() || scalar_is_null(md)) return;
  if (!md.IsMap()) {
    add_at(md, ManifestErrorCode::wrong_type, "metadata", "",
           fmt::format("metadata must be a mapping, got {}", describe(md)));
    return;
  }
  for (const auto& kv : md) {
    auto key = kv.first.Scalar();
    if (key == "name" || key == "description") {
      auto s = get_string(md, key, "metadata." + key, "", false, md);
      if (s) (key == "name" ? m_.metadata_.name : m_.metadata_.description) = *s;
    } else {
      m_.metadata_.extra[key] = to_json(kv.second);
    }
  }
}

void ManifestParser::parse_connections(const YAML::Node& cs) {
  if (!cs.IsDefined() || scalar_is_null(cs)) return;
  if (!cs.IsSequence()) {
    add_at(cs, ManifestErrorCode::wrong_type, "connections", "",
           fmt::format("connections must be a list, got {}", describe(cs)));
    return;
  }
  std::set<std::string> ids;
  for (const auto& n : m_.nodes_) ids.insert(n.id);
  for (std::size_t i = 0; i < cs.size(); ++i) {
    auto p = fmt::format("connections[{}]", i);
    const YAML::Node& c = cs[i];
    if (!c.IsMap()) {
      add_at(c, ManifestErrorCode::wrong_type, p, "",
             fmt::format("{} must be a mapping with from and to, got {}", p, describe(c)));
      continue;
    }
    auto from = get_string(c, "from", p + ".from", "", true, c);
    auto to = get_string(c, "to", p + ".to", "", true, c);
    if (!from || !to) continue;
    if (from->empty()) {
      add_at(c["from"], ManifestErrorCode::invalid_value, p + ".from", "",
             fmt::format("{}.from must not be empty", p));
      continue;
    }
    if (!ids.count(*to)) {
      add_at(c["to"], ManifestErrorCode::unknown_node, p + ".to", *to,
             fmt::format("{}.to \"{}\" names no node (nodes: {})", p, *to, fmt::join(ids, ", ")));
      continue;
    }
    bool dup = std::any_of(m_.connections_.begin(), m_.connections_.end(),
                           [&](const Connection& x) { return x.from == *from && x.to == *to; });
    if (dup) {
      m_.warnings_.push_back(
          fmt::format("{}: {} repeats the connection {} -> {}; it is used once", m_.source_, p, *from, *to));
      continue;
    }
    m_.connections_.push_back({*from, *to});
  }
}

tl::expected<Manifest, ManifestError> Manifest::from_string(std::string_view text, ManifestFormat format,
                                                            std::filesystem::path base_dir) {
  ManifestParser p("<string>", std::move(base_dir));
  return p.parse_text(text, format);
}

tl::expected<Manifest, ManifestError> Manifest::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ManifestError e;
    e.source = path.string();
    std::error_code ec;
    bool exists = std::filesystem::exists(path, ec);
    e.issues.push_back(
        {ManifestErrorCode::io, "", "",
         exists ? fmt::format("cannot read the manifest file {} (check its permissions)", path.string())
                : fmt::format("manifest file {} does not exist", path.string()),
         0, 0});
    return tl::unexpected(e);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto ext = path.extension().string();
  auto format = ext == ".json" ? ManifestFormat::json : ManifestFormat::yaml;
  auto base = std::filesystem::absolute(path).parent_path();
  ManifestParser p(path.string(), base);
  return p.parse_text(ss.str(), format);
}

}  // namespace rm::runtime
