#include "detail/yaml_reader.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace rm::runtime::detail {

namespace json = boost::json;

bool is_quoted(const YAML::Node& n) {
  return n.Tag() == "!";
}

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

YAML::Node from_json(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return YAML::Node(YAML::NodeType::Null);
    case json::kind::bool_:
      return YAML::Node(v.get_bool() ? "true" : "false");
    case json::kind::int64:
      return YAML::Node(std::to_string(v.get_int64()));
    case json::kind::uint64:
      return YAML::Node(std::to_string(v.get_uint64()));
    case json::kind::double_:
      return YAML::Node(fmt::format("{}", v.get_double()));
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

std::pair<int, int> position_of(std::string_view text, std::size_t offset) {
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

void YamlReader::add(ManifestErrorCode code, std::string path, std::string node_id, std::string message,
                     int line, int column) {
  err_.issues.push_back(
      ManifestIssue{code, std::move(path), std::move(node_id), std::move(message), line, column});
}

void YamlReader::add_at(const YAML::Node& at, ManifestErrorCode code, std::string path, std::string node_id,
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

std::optional<std::string> YamlReader::get_string(const YAML::Node& parent, const std::string& key,
                                                  const std::string& path, const std::string& node_id,
                                                  bool required, const YAML::Node& where) {
  YAML::Node v = parent[key];
  if (!v.IsDefined() || scalar_is_null(v)) {
    if (required)
      add_at(where, ManifestErrorCode::missing_field, path, node_id, fmt::format("{} is required", path));
    return std::nullopt;
  }
  if (!v.IsScalar()) {
    add_at(v, ManifestErrorCode::wrong_type, path, node_id,
           fmt::format("{} must be a string, got {}", path, describe(v)));
    return std::nullopt;
  }
  return v.Scalar();
}

std::optional<double> YamlReader::get_number(const YAML::Node& v, const std::string& path,
                                             const std::string& node_id) {
  auto d = scalar_number(v);
  if (!d) {
    add_at(v, ManifestErrorCode::wrong_type, path, node_id,
           fmt::format("{} must be a number, got {}", path, describe(v)));
  }
  return d;
}

std::optional<std::uint64_t> YamlReader::get_uint(const YAML::Node& v, const std::string& path,
                                                  const std::string& node_id) {
  auto d = get_number(v, path, node_id);
  if (!d) return std::nullopt;
  if (*d != std::floor(*d) || *d < 0) {
    add_at(v, ManifestErrorCode::wrong_type, path, node_id,
           fmt::format("{} must be a whole number of megabytes, got {}", path, v.Scalar()));
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(*d);
}

std::optional<bool> YamlReader::get_bool(const YAML::Node& parent, const std::string& key,
                                         const std::string& path, const std::string& node_id) {
  YAML::Node v = parent[key];
  if (!v.IsDefined() || scalar_is_null(v)) return std::nullopt;
  auto b = scalar_bool(v);
  if (!b) {
    add_at(v, ManifestErrorCode::wrong_type, path, node_id,
           fmt::format("{} must be true or false, got {}", path, describe(v)));
  }
  return b;
}

std::vector<std::string> YamlReader::get_package_list(const YAML::Node& v, const std::string& path,
                                                      const std::string& node_id) {
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
      add_at(e, ManifestErrorCode::wrong_type, p, node_id,
             fmt::format("{} must be a string, got {}", p, describe(e)));
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

YAML::Node YamlReader::either(const YAML::Node& d, const std::string& a, const std::string& b,
                              const std::string& path, const std::string& node_id, std::string* used) {
  YAML::Node va = d[a];
  YAML::Node vb = d[b];
  if (va.IsDefined() && vb.IsDefined()) {
    add_at(vb, ManifestErrorCode::invalid_value, path + "." + b, node_id,
           fmt::format("{}.{} and {}.{} are the same field; give only one", path, a, path, b));
  }
  *used = va.IsDefined() ? a : b;
  return va.IsDefined() ? va : vb;
}

}  // namespace rm::runtime::detail
