#include "runtime/manifest.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "runtime/node_registry.hpp"

namespace rm::runtime {

std::string_view to_string(NodeKind k) {
  switch (k) {
    case NodeKind::native: return "native";
    case NodeKind::process: return "process";
    case NodeKind::docker: return "docker";
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

namespace {

namespace json = boost::json;

constexpr std::string_view kSupportedPython[] = {"3.9", "3.10", "3.11", "3.12", "3.13"};
constexpr double kMinCpu = 0.1;
constexpr std::uint64_t kMinMemoryMb = 128;

bool is_python_hint(std::string_view hint) {
  return hint == "cpython" || hint == "python" || hint == "multiprocess";
}

// A plain (unquoted) YAML scalar is typed by its text; a quoted one is always a string.
bool is_quoted(const YAML::Node& n) { return n.Tag() == "!"; }

std::optional<bool> scalar_bool(const YAML::Node& n) {
  if (!n.IsScalar() || is_quoted(n)) return std::nullopt;
  const auto& s = n.Scalar();
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<std::int64_t> scalar_int(const YAML::Node& n) {
  if (!n.IsScalar() || is_quoted(n)) return std::nullopt;
  std::string_view s = n.Scalar();
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> scalar_number(const YAML::Node& n) {
  if (!n.IsScalar() || is_quoted(n)) return std::nullopt;
  const std::string& s = n.Scalar();
  if (s.empty()) return std::nullopt;
  char first = s.front();
  if (!(std::isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '+' || first == '.'))
    return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool scalar_is_null(const YAML::Node& n) {
  if (n.IsNull()) return true;
  if (!n.IsScalar() || is_quoted(n)) return false;
  const auto& s = n.Scalar();
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// "string \"lots\"", "list", "mapping", "number 3", ... for error messages.
std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || scalar_is_null(n)) return "null";
  if (n.IsMap()) return "mapping";
  if (n.IsSequence()) return "list";
  if (scalar_bool(n)) return fmt::format("boolean {}", n.Scalar());
  if (scalar_number(n)) return fmt::format("number {}", n.Scalar());
  return fmt::format("string \"{}\"", n.Scalar());
}

json::value to_json(const YAML::Node& n) {
  if (!n.IsDefined() || scalar_is_null(n)) return nullptr;
  if (n.IsMap()) {
    json::object o;
    for (const auto& kv : n) o[kv.first.as<std::string>()] = to_json(kv.second);
    return o;
  }
  if (n.IsSequence()) {
    json::array a;
    for (const auto& e : n) a.push_back(to_json(e));
    return a;
  }
  if (auto b = scalar_bool(n)) return *b;
  if (auto i = scalar_int(n)) return *i;
  if (auto d = scalar_number(n)) return *d;
  return json::string(n.Scalar());
}

// For JSON text yaml-cpp cannot take (rare), the same tree built from Boost.JSON, without marks.
YAML::Node from_json(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return YAML::Node(YAML::NodeType::Null);
    case json::kind::bool_: return YAML::Node(v.get_bool() ? "true" : "false");
    case json::kind::int64: return YAML::Node(std::to_string(v.get_int64()));
    case json::kind::uint64: return YAML::Node(std::to_string(v.get_uint64()));
    case json::kind::double_: return YAML::Node(fmt::format("{}", v.get_double()));
    case json::kind::string: {
      YAML::Node s(std::string(v.get_string()));
      s.SetTag("!");
      return s;
    }
    case json::kind::array: {
      YAML::Node a(YAML::NodeType::Sequence);
      for (const auto& e : v.get_array()) a.push_back(from_json(e));
      return a;
    }
    case json::kind::object: {
      YAML::Node o(YAML::NodeType::Map);
      for (const auto& [k, e] : v.get_object()) o[std::string(k)] = from_json(e);
      return o;
    }
  }
  return {};
}

}  // namespace

// Walks the YAML tree once, collecting every problem instead of stopping at the first.
class ManifestParser {
 public:
  ManifestParser(std::string source, std::filesystem::path base_dir)
      : base_dir_(std::move(base_dir)) {
    m_.source_ = std::move(source);
    err_.source = m_.source_;
  }

  tl::expected<Manifest, ManifestError> parse_text(std::string_view text, ManifestFormat format) {
    if (format == ManifestFormat::detect) {
      auto first = text.find_first_not_of(" \t\r\n");
      format = (first != std::string_view::npos && text[first] == '{') ? ManifestFormat::json : ManifestFormat::yaml;
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

  ManifestError& error() { return err_; }

 private:
  Manifest m_;
  ManifestError err_;
  std::filesystem::path base_dir_;

  static std::pair<int, int> position_of(std::string_view text, std::size_t offset) {
    int line = 1, col = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return {line, col};
  }

  void add(ManifestErrorCode code, std::string path, std::string node_id, std::string message, int line = 0,
           int column = 0) {
    err_.issues.push_back(ManifestIssue{code, std::move(path), std::move(node_id), std::move(message), line, column});
  }
  void add_at(const YAML::Node& at, ManifestErrorCode code, std::string path, std::string node_id,
              std::string message) {
    int line = 0, col = 0;
    if (at.IsDefined()) {
      auto mark = at.Mark();
      if (!mark.is_null()) {
        line = mark.line + 1;
        col = mark.column + 1;
      }
    }
    add(code, std::move(path), std::move(node_id), std::move(message), line, col);
  }

  // Typed getters: each reports its own problem and returns nullopt on a missing/bad value.
  std::optional<std::string> get_string(const YAML::Node& parent, const std::string& key, const std::string& path,
                                        const std::string& node_id, bool required, const YAML::Node& where) {
    YAML::Node v = parent[key];
    if (!v.IsDefined() || scalar_is_null(v)) {
      if (required) add_at(where, ManifestErrorCode::missing_field, path, node_id, fmt::format("{} is required", path));
      return std::nullopt;
    }
    if (!v.IsScalar()) {
      add_at(v, ManifestErrorCode::wrong_type, path, node_id,
             fmt::format("{} must be a string, got {}", path, describe(v)));
      return std::nullopt;
    }
    return v.Scalar();
  }

  std::optional<double> get_number(const YAML::Node& v, const std::string& path, const std::string& node_id) {
    auto d = scalar_number(v);
    if (!d) {
      add_at(v, ManifestErrorCode::wrong_type, path, node_id,
             fmt::format("{} must be a number, got {}", path, describe(v)));
    }
    return d;
  }

  std::optional<bool> get_bool(const YAML::Node& parent, const std::string& key, const std::string& path,
                               const std::string& node_id) {
    YAML::Node v = parent[key];
    if (!v.IsDefined() || scalar_is_null(v)) return std::nullopt;
    auto b = scalar_bool(v);
    if (!b) {
      add_at(v, ManifestErrorCode::wrong_type, path, node_id,
             fmt::format("{} must be true or false, got {}", path, describe(v)));
    }
    return b;
  }

  std::vector<std::string> get_package_list(const YAML::Node& v, const std::string& path, const std::string& node_id) {
    std::vector<std::string> out;
    if (!v.IsDefined() || scalar_is_null(v)) return out;
    if (!v.IsSequence()) {
      add_at(v, ManifestErrorCode::wrong_type, path, node_id,
             fmt::format("{} must be a list of package names, got {}", path, describe(v)));
      return out;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto p = fmt::format("{}[{}]", path, i);
      const YAML::Node& e = v[i];
      if (!e.IsScalar() && !e.IsNull()) {
        add_at(e, ManifestErrorCode::wrong_type, p, node_id, fmt::format("{} must be a string, got {}", p, describe(e)));
        continue;
      }
      std::string name = e.IsScalar() && !scalar_is_null(e) ? e.Scalar() : "";
      auto first = name.find_first_not_of(" \t");
      if (first == std::string::npos) {
        add_at(e, ManifestErrorCode::invalid_value, p, node_id, fmt::format("{} is an empty package name", p));
        continue;
      }
      out.push_back(name);
    }
    return out;
  }

  void parse_document(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) {
      add(ManifestErrorCode::no_nodes, "", "", "the manifest is empty (expected version, metadata, nodes, connections)");
      return;
    }
    if (!root.IsMap()) {
      add_at(root, ManifestErrorCode::wrong_type, "", "",
             fmt::format("the manifest must be a mapping with version, nodes and connections, got {}", describe(root)));
      return;
    }
    static const std::set<std::string> known = {"version", "metadata", "nodes", "connections"};
    for (const auto& kv : root) {
      auto key = kv.first.Scalar();
      if (!known.count(key)) {
        int line = kv.first.Mark().is_null() ? 0 : kv.first.Mark().line + 1;
        m_.warnings_.push_back(line ? fmt::format("{}:{}: unknown top-level key '{}' is ignored", m_.source_, line, key)
                                    : fmt::format("{}: unknown top-level key '{}' is ignored", m_.source_, key));
      }
    }
    // version
    YAML::Node v = root["version"];
    if (!v.IsDefined() || scalar_is_null(v)) {
      add_at(root, ManifestErrorCode::missing_field, "version", "", "version is required (use \"v1\")");
    } else if (!v.IsScalar()) {
      add_at(v, ManifestErrorCode::wrong_type, "version", "", fmt::format("version must be a string, got {}", describe(v)));
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

  void parse_metadata(const YAML::Node& md) {
    if (!md.IsDefined() || scalar_is_null(md)) return;
    if (!md.IsMap()) {
      add_at(md, ManifestErrorCode::wrong_type, "metadata", "", fmt::format("metadata must be a mapping, got {}", describe(md)));
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

  void parse_nodes(const YAML::Node& root) {
    YAML::Node nodes = root["nodes"];
    if (!nodes.IsDefined() || scalar_is_null(nodes)) {
      add_at(root, ManifestErrorCode::no_nodes, "nodes", "", "nodes is missing: a pipeline needs at least one node");
      return;
    }
    if (!nodes.IsSequence()) {
      add_at(nodes, ManifestErrorCode::wrong_type, "nodes", "", fmt::format("nodes must be a list, got {}", describe(nodes)));
      return;
    }
    if (nodes.size() == 0) {
      add_at(nodes, ManifestErrorCode::no_nodes, "nodes", "", "nodes is empty: a pipeline needs at least one node");
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
                 fmt::format("nodes[{}].id \"{}\" is already used by nodes[{}]; node ids must be unique", i, spec->id,
                             it->second));
          continue;
        }
      }
      m_.nodes_.push_back(std::move(*spec));
    }
  }

  std::optional<NodeSpec> parse_node(const YAML::Node& n, const std::string& path) {
    if (!n.IsMap()) {
      add_at(n, ManifestErrorCode::wrong_type, path, "", fmt::format("{} must be a mapping, got {}", path, describe(n)));
      return std::nullopt;
    }
    NodeSpec spec;
    spec.line = n.Mark().is_null() ? 0 : n.Mark().line + 1;
    auto id = get_string(n, "id", path + ".id", "", true, n);
    if (id) {
      if (id->empty()) {
        add_at(n["id"], ManifestErrorCode::invalid_value, path + ".id", "", fmt::format("{}.id must not be empty", path));
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
    static const std::set<std::string> known = {"id", "node_type", "params", "is_streaming", "runtime_hint",
                                                "is_output_node", "docker"};
    for (const auto& kv : n) {
      if (!known.count(kv.first.Scalar())) {
        m_.warnings_.push_back(fmt::format("{}: {} (node {}): unknown key '{}' is ignored", m_.source_, path, nid,
                                           kv.first.Scalar()));
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
               fmt::format("{}.node_type \"{}\" is not a native node type; give the node a docker block or "
                           "runtime_hint: cpython to run it as a Python node (`remotemedia nodes` lists native types)",
                           path, spec.node_type));
      } else {
        auto p = NodeRegistry::instance().validate_params(reg->contract, nid, spec.params);
        if (!p) {
          std::string msg = p.error().message;
          auto prefix = fmt::format("node {}: ", nid);
          if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
          // The registry says "params.x must be ..."; prefix the node's path so the field is exact.
          add_at(n["params"].IsDefined() ? n["params"] : n, ManifestErrorCode::invalid_params, path + ".params", nid,
                 msg.rfind("params", 0) == 0 ? fmt::format("{}.{}", path, msg)
                                             : fmt::format("{}.params: {}", path, msg));
        } else {
          spec.resolved_params = std::move(*p);
        }
      }
    }
    return spec;
  }

  // Reads one of two spellings of a key; both present is an error.
  YAML::Node either(const YAML::Node& d, const std::string& a, const std::string& b, const std::string& path,
                    const std::string& nid, std::string* used) {
    YAML::Node va = d[a];
    YAML::Node vb = d[b];
    if (va.IsDefined() && vb.IsDefined()) {
      add_at(vb, ManifestErrorCode::invalid_value, path + "." + b, nid,
             fmt::format("{}.{} and {}.{} are the same field; give only one", path, a, path, b));
    }
    *used = va.IsDefined() ? a : b;
    return va.IsDefined() ? va : vb;
  }

  std::optional<std::uint64_t> get_uint(const YAML::Node& v, const std::string& path, const std::string& nid) {
    auto d = get_number(v, path, nid);
    if (!d) return std::nullopt;
    if (*d != std::floor(*d) || *d < 0) {
      add_at(v, ManifestErrorCode::wrong_type, path, nid,
             fmt::format("{} must be a whole number of megabytes, got {}", path, v.Scalar()));
      return std::nullopt;
    }
    return static_cast<std::uint64_t>(*d);
  }

  DockerConfig parse_docker(const YAML::Node& d, const std::string& path, const std::string& nid) {
    DockerConfig c;
    if (!d.IsMap()) {
      add_at(d, ManifestErrorCode::wrong_type, path, nid, fmt::format("{} must be a mapping, got {}", path, describe(d)));
      return c;
    }
    static const std::set<std::string> known = {
        "python_version", "base_image", "system_dependencies", "system_packages", "python_packages",
        "resource_limits", "memory_mb", "cpu_cores", "env", "env_vars", "volumes", "shm_size_mb", "gpus",
        "gpu_devices"};
    for (const auto& kv : d) {
      if (!known.count(kv.first.Scalar())) {
        m_.warnings_.push_back(
            fmt::format("{}: {} (node {}): unknown key '{}' is ignored", m_.source_, path, nid, kv.first.Scalar()));
      }
    }
    // python_version: a plain 3.10 in YAML keeps its text, so "3.10" and 3.10 both work.
    YAML::Node pv = d["python_version"];
    if (!pv.IsDefined() || scalar_is_null(pv)) {
      add_at(d, ManifestErrorCode::missing_field, path + ".python_version", nid,
             fmt::format("{}.python_version is required (one of {})", path, fmt::join(kSupportedPython, ", ")));
    } else if (!pv.IsScalar()) {
      add_at(pv, ManifestErrorCode::wrong_type, path + ".python_version", nid,
             fmt::format("{}.python_version must be a string such as \"3.11\", got {}", path, describe(pv)));
    } else {
      std::string ver = pv.Scalar();
      // "3.11.4" is accepted as 3.11 for the check; the full text is kept.
      std::string minor = ver;
      if (std::count(ver.begin(), ver.end(), '.') == 2) minor = ver.substr(0, ver.rfind('.'));
      if (std::find(std::begin(kSupportedPython), std::end(kSupportedPython), minor) == std::end(kSupportedPython)) {
        add_at(pv, ManifestErrorCode::invalid_value, path + ".python_version", nid,
               fmt::format("{}.python_version \"{}\" is not supported (use one of {})", path, ver,
                           fmt::join(kSupportedPython, ", ")));
      }
      c.python_version = ver;
    }
    if (auto img = get_string(d, "base_image", path + ".base_image", nid, false, d)) {
      if (img->empty())
        add_at(d["base_image"], ManifestErrorCode::invalid_value, path + ".base_image", nid,
               fmt::format("{}.base_image must not be empty (leave it out for python:<version>-slim)", path));
      c.base_image = *img;
    }
    if (c.base_image.empty() && !c.python_version.empty()) c.base_image = fmt::format("python:{}-slim", c.python_version);

    std::string used;
    YAML::Node sd = either(d, "system_dependencies", "system_packages", path, nid, &used);
    c.system_dependencies = get_package_list(sd, path + "." + used, nid);
    c.python_packages = get_package_list(d["python_packages"], path + ".python_packages", nid);

    parse_limits(d, path, nid, c.resource_limits);

    YAML::Node env = either(d, "env", "env_vars", path, nid, &used);
    if (env.IsDefined() && !scalar_is_null(env)) {
      if (!env.IsMap()) {
        add_at(env, ManifestErrorCode::wrong_type, path + "." + used, nid,
               fmt::format("{}.{} must be a mapping of NAME: value, got {}", path, used, describe(env)));
      } else {
        for (const auto& kv : env) {
          auto p = fmt::format("{}.{}.{}", path, used, kv.first.Scalar());
          if (!kv.second.IsScalar()) {
            add_at(kv.second, ManifestErrorCode::wrong_type, p, nid,
                   fmt::format("{} must be a string, got {}", p, describe(kv.second)));
            continue;
          }
          c.env[kv.first.Scalar()] = kv.second.Scalar();
        }
      }
    }
    parse_volumes(d["volumes"], path + ".volumes", nid, c.volumes);

    YAML::Node shm = d["shm_size_mb"];
    if (shm.IsDefined() && !scalar_is_null(shm)) {
      if (auto s = get_uint(shm, path + ".shm_size_mb", nid)) {
        if (*s < 1) {
          add_at(shm, ManifestErrorCode::invalid_value, path + ".shm_size_mb", nid,
                 fmt::format("{}.shm_size_mb must be at least 1", path));
        }
        c.shm_size_mb = *s;
      }
    }
    YAML::Node g = either(d, "gpus", "gpu_devices", path, nid, &used);
    parse_gpus(g, path + "." + used, nid, c.gpus);
    return c;
  }

  void parse_limits(const YAML::Node& d, const std::string& path, const std::string& nid, ResourceLimits& out) {
    YAML::Node rl = d["resource_limits"];
    YAML::Node mem, cpu;
    std::string base;
    if (rl.IsDefined() && !scalar_is_null(rl)) {
      if (!rl.IsMap()) {
        add_at(rl, ManifestErrorCode::wrong_type, path + ".resource_limits", nid,
               fmt::format("{}.resource_limits must be a mapping with memory_mb and cpu_cores, got {}", path,
                           describe(rl)));
        return;
      }
      if (d["memory_mb"].IsDefined() || d["cpu_cores"].IsDefined()) {
        add_at(d, ManifestErrorCode::invalid_value, path + ".resource_limits", nid,
               fmt::format("{} gives limits both in resource_limits and at docker level; give them once", path));
      }
      base = path + ".resource_limits";
      mem = rl["memory_mb"];
      cpu = rl["cpu_cores"];
    } else if (d["memory_mb"].IsDefined() || d["cpu_cores"].IsDefined()) {
      base = path;  // flat spelling
      mem = d["memory_mb"];
      cpu = d["cpu_cores"];
    } else {
      add_at(d, ManifestErrorCode::missing_field, path + ".resource_limits", nid,
             fmt::format("{}.resource_limits is required (memory_mb >= {} and cpu_cores >= {})", path, kMinMemoryMb,
                         kMinCpu));
      return;
    }
    const YAML::Node& where = rl.IsDefined() ? rl : d;
    if (!mem.IsDefined() || scalar_is_null(mem)) {
      add_at(where, ManifestErrorCode::missing_field, base + ".memory_mb", nid,
             fmt::format("{}.memory_mb is required (at least {})", base, kMinMemoryMb));
    } else if (auto m = get_uint(mem, base + ".memory_mb", nid)) {
      if (*m < kMinMemoryMb) {
        add_at(mem, ManifestErrorCode::invalid_value, base + ".memory_mb", nid,
               fmt::format("{}.memory_mb = {} is below the minimum of {}", base, *m, kMinMemoryMb));
      }
      out.memory_mb = *m;
    }
    if (!cpu.IsDefined() || scalar_is_null(cpu)) {
      add_at(where, ManifestErrorCode::missing_field, base + ".cpu_cores", nid,
             fmt::format("{}.cpu_cores is required (at least {})", base, kMinCpu));
    } else if (auto c = get_number(cpu, base + ".cpu_cores", nid)) {
      unsigned host = std::max(1u, std::thread::hardware_concurrency());
      if (*c < kMinCpu) {
        add_at(cpu, ManifestErrorCode::invalid_value, base + ".cpu_cores", nid,
               fmt::format("{}.cpu_cores = {} is below the minimum of {}", base, cpu.Scalar(), kMinCpu));
      } else if (*c > host) {
        add_at(cpu, ManifestErrorCode::invalid_value, base + ".cpu_cores", nid,
               fmt::format("{}.cpu_cores = {} is more than the {} cores of this host", base, cpu.Scalar(), host));
      }
      out.cpu_cores = *c;
    }
  }

  void parse_volumes(const YAML::Node& v, const std::string& path, const std::string& nid,
                     std::vector<VolumeMount>& out) {
    if (!v.IsDefined() || scalar_is_null(v)) return;
    if (!v.IsSequence()) {
      add_at(v, ManifestErrorCode::wrong_type, path, nid, fmt::format("{} must be a list, got {}", path, describe(v)));
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto p = fmt::format("{}[{}]", path, i);
      const YAML::Node& e = v[i];
      if (!e.IsMap()) {
        add_at(e, ManifestErrorCode::wrong_type, p, nid,
               fmt::format("{} must be a mapping with host_path and container_path, got {}", p, describe(e)));
        continue;
      }
      VolumeMount m;
      auto host = get_string(e, "host_path", p + ".host_path", nid, true, e);
      auto cont = get_string(e, "container_path", p + ".container_path", nid, true, e);
      if (auto ro = get_bool(e, "read_only", p + ".read_only", nid)) m.read_only = *ro;
      if (host) {
        std::filesystem::path hp(*host);
        if (hp.is_relative()) hp = (base_dir_.empty() ? std::filesystem::current_path() : base_dir_) / hp;
        hp = hp.lexically_normal();
        std::error_code ec;
        if (host->empty() || !std::filesystem::exists(hp, ec)) {
          add_at(e["host_path"], ManifestErrorCode::missing_path, p + ".host_path", nid,
                 fmt::format("{}.host_path \"{}\" does not exist (resolved to {})", p, *host, hp.string()));
        }
        m.host_path = hp.string();
      }
      if (cont) {
        if (cont->empty() || cont->front() != '/') {
          add_at(e["container_path"], ManifestErrorCode::invalid_value, p + ".container_path", nid,
                 fmt::format("{}.container_path \"{}\" must be an absolute path", p, *cont));
        }
        m.container_path = *cont;
      }
      out.push_back(std::move(m));
    }
  }

  void parse_gpus(const YAML::Node& g, const std::string& path, const std::string& nid, GpuRequest& out) {
    if (!g.IsDefined() || scalar_is_null(g)) return;
    if (g.IsScalar()) {
      if (g.Scalar() == "all") {
        out.mode = GpuRequest::Mode::all;
        return;
      }
      auto n = scalar_int(g);
      if (n && *n >= 1) {
        out.mode = GpuRequest::Mode::count;
        out.count = static_cast<int>(*n);
        return;
      }
    } else if (g.IsSequence()) {
      out.mode = GpuRequest::Mode::devices;
      bool ok = g.size() > 0;
      for (const auto& e : g) {
        if (!e.IsScalar() || e.Scalar().empty()) ok = false;
        else out.device_ids.push_back(e.Scalar());
      }
      if (ok) return;
    }
    add_at(g, ManifestErrorCode::invalid_value, path, nid,
           fmt::format("{} must be \"all\", a GPU count >= 1 or a non-empty list of device ids, got {}", path,
                       describe(g)));
  }

  void parse_connections(const YAML::Node& cs) {
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
        add_at(c, ManifestErrorCode::wrong_type, p, "", fmt::format("{} must be a mapping with from and to, got {}", p, describe(c)));
        continue;
      }
      auto from = get_string(c, "from", p + ".from", "", true, c);
      auto to = get_string(c, "to", p + ".to", "", true, c);
      if (!from || !to) continue;
      if (from->empty()) {
        add_at(c["from"], ManifestErrorCode::invalid_value, p + ".from", "", fmt::format("{}.from must not be empty", p));
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
        m_.warnings_.push_back(fmt::format("{}: {} repeats the connection {} -> {}; it is used once", m_.source_, p,
                                           *from, *to));
        continue;
      }
      m_.connections_.push_back({*from, *to});
    }
  }

  void check_graph() {
    // Cycle detection by DFS; the first cycle found is reported with every node on it.
    std::map<std::string, std::vector<std::string>> succ;
    for (const auto& c : m_.connections_) {
      if (m_.find_node(c.from)) succ[c.from].push_back(c.to);
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
    for (const auto& n : m_.nodes_) {
      if (state[n.id] == 0) dfs(n.id);
      if (cycle) break;
    }
    if (cycle) {
      add(ManifestErrorCode::cycle, "connections", cycle->front(),
          fmt::format("connections form a cycle: {}; a pipeline must be acyclic", fmt::join(*cycle, " -> ")));
    }
  }
};

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
    bool has_out = std::any_of(connections_.begin(), connections_.end(), [&](const Connection& c) { return c.from == n.id; });
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
    e.issues.push_back({ManifestErrorCode::io, "", "",
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
