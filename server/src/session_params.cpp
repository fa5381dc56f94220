#include "server/session_params.hpp"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/json.hpp"
#include "runtime/node_registry.hpp"

namespace rm::server {

namespace json = boost::json;
using Type = ParamSpec::Type;

std::string_view to_string(Type t) {
  switch (t) {
    case Type::number:
      return "number";
    case Type::integer:
      return "integer";
    case Type::string:
      return "string";
    case Type::boolean:
      return "boolean";
  }
  return "number";
}

namespace {

constexpr std::string_view kKey = "session_params";

std::optional<Type> parse_type(std::string_view s) {
  for (auto t : {Type::number, Type::integer, Type::string, Type::boolean})
    if (to_string(t) == s) return t;
  return std::nullopt;
}

bool is_integral(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  return v.is_double() && std::isfinite(v.get_double()) && std::floor(v.get_double()) == v.get_double();
}

bool has_type(const json::value& v, Type t) {
  switch (t) {
    case Type::number:
      return v.is_number();
    case Type::integer:
      return is_integral(v);
    case Type::string:
      return v.is_string();
    case Type::boolean:
      return v.is_bool();
  }
  return false;
}

std::string kind_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "list";
    case json::kind::object:
      return "object";
    default:
      return "number";
  }
}

// Why `v` is not an allowed value of `spec` ("is above the maximum 4"), or nullopt.
std::optional<std::string> refuse(const ParamSpec& spec, const json::value& v) {
  if (!has_type(v, spec.type))
    return fmt::format("must be {} {}, got {} {}", spec.type == Type::integer ? "an" : "a",
                       to_string(spec.type), kind_of(v), core::to_json(v));
  if (v.is_number()) {
    const double d = v.to_number<double>();
    if (spec.minimum && d < *spec.minimum)
      return fmt::format("= {} is below the minimum {}", core::to_json(v), *spec.minimum);
    if (spec.maximum && d > *spec.maximum)
      return fmt::format("= {} is above the maximum {}", core::to_json(v), *spec.maximum);
  }
  if (!spec.values.empty()) {
    for (const auto& a : spec.values) {
      if (a == v || (a.is_number() && v.is_number() && a.to_number<double>() == v.to_number<double>()))
        return std::nullopt;
    }
    std::vector<std::string> allowed;
    for (const auto& a : spec.values) allowed.push_back(core::to_json(a));
    return fmt::format("= {} is not one of {}", core::to_json(v), fmt::join(allowed, ", "));
  }
  return std::nullopt;
}

// One entry of metadata.session_params; problems appended to `errors`.
std::optional<ParamSpec> parse_spec(const runtime::Manifest& m, const std::string& name, const json::value& v,
                                    std::vector<std::string>& errors) {
  const auto err = [&](const std::string& what) {
    errors.push_back(fmt::format("metadata.session_params '{}': {}", name, what));
    return std::nullopt;
  };
  const auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size())
    return err("a session param is written node_id.param");
  ParamSpec s;
  s.name = name;
  s.node = name.substr(0, dot);
  s.key = name.substr(dot + 1);
  const auto* node = m.find_node(s.node);
  if (node == nullptr) return err(fmt::format("no node '{}' in this pipeline", s.node));
  // A native node's contract knows the param: its type, bounds and choices are the defaults of
  // the declaration, which may narrow them.
  const runtime::ParamSpec* known = nullptr;
  if (node->kind == runtime::NodeKind::native) {
    if (const auto* reg = runtime::NodeRegistry::instance().find(node->node_type)) {
      for (const auto& p : reg->contract.params)
        if (p.name == s.key) known = &p;
    }
    if (known == nullptr)
      return err(fmt::format("node '{}' ({}) has no param '{}'", s.node, node->node_type, s.key));
  }
  static const json::object kEmpty;
  if (!v.is_object() && !(v.is_null() && known))
    return err(fmt::format("must be a mapping {{type, ...}}, got {}", kind_of(v)));
  const auto& o = v.is_object() ? v.get_object() : kEmpty;
  for (const auto& [k, _] : o) {
    if (k != "type" && k != "minimum" && k != "maximum" && k != "values" && k != "description")
      return err(fmt::format("unknown field '{}' (fields: type, minimum, maximum, values, description)",
                             std::string_view(k)));
  }
  const auto* t = o.if_contains("type");
  std::optional<Type> type;
  if (t != nullptr) {
    type = t->is_string() ? parse_type(t->get_string()) : std::nullopt;
  } else if (known != nullptr) {
    type = parse_type(runtime::to_string(known->type));
    if (!type)
      return err(fmt::format("a {} param cannot be set per session (only number, integer, string, boolean)",
                             runtime::to_string(known->type)));
  }
  if (!type) return err("needs type: number, integer, string or boolean");
  s.type = *type;
  if (known != nullptr) {
    s.minimum = known->min;
    s.maximum = known->max;
    for (const auto& c : known->choices) s.values.emplace_back(c);
    s.description = known->description;
  }
  for (auto [field, out] : {std::pair{"minimum", &s.minimum}, std::pair{"maximum", &s.maximum}}) {
    const auto* b = o.if_contains(field);
    if (b == nullptr) continue;
    if (s.type != Type::number && s.type != Type::integer)
      return err(fmt::format("{} applies to numbers only", field));
    if (!b->is_number()) return err(fmt::format("{} must be a number", field));
    *out = b->to_number<double>();
  }
  if (s.minimum && s.maximum && *s.minimum > *s.maximum)
    return err(fmt::format("minimum {} is above maximum {}", *s.minimum, *s.maximum));
  if (const auto* vals = o.if_contains("values")) {
    if (!vals->is_array() || vals->get_array().empty()) return err("values must be a non-empty list");
    for (const auto& a : vals->get_array()) {
      if (!has_type(a, s.type))
        return err(fmt::format("value {} in values is not {} {}", core::to_json(a),
                               s.type == Type::integer ? "an" : "a", to_string(s.type)));
    }
    s.values.assign(vals->get_array().begin(), vals->get_array().end());
  } else if (!s.values.empty() && s.type != Type::string) {
    s.values.clear();
  }
  if (const auto* d = o.if_contains("description"); d && d->is_string()) s.description = d->get_string();
  if (const auto* cur = node->resolved_params.if_contains(s.key); cur && !cur->is_null()) {
    s.default_value = *cur;
    if (auto why = refuse(s, *cur)) return err(fmt::format("the manifest's own value {}", *why));
  }
  return s;
}

}  // namespace

tl::expected<SessionParams, std::string> SessionParams::from_manifest(const runtime::Manifest& m) {
  SessionParams p;
  const auto* decl = m.metadata().extra.if_contains(kKey);
  if (decl == nullptr || decl->is_null()) return p;
  if (!decl->is_object())
    return tl::unexpected(
        std::string("metadata.session_params must be a mapping of node_id.param to {type, ...}"));
  std::vector<std::string> errors;
  for (const auto& [k, v] : decl->get_object()) {
    if (auto s = parse_spec(m, std::string(k), v, errors)) p.specs_.push_back(std::move(*s));
  }
  if (!errors.empty()) return tl::unexpected(fmt::format("{}", fmt::join(errors, "\n")));
  return p;
}

namespace {
// 80 rather than 8E1 for a bound that is a whole number.
json::value number(double d) {
  if (std::floor(d) == d && std::abs(d) < 9e15) return static_cast<std::int64_t>(d);
  return d;
}
}  // namespace

json::array SessionParams::describe() const {
  json::array out;
  for (const auto& s : specs_) {
    json::object o{{"name", s.name},
                   {"node", s.node},
                   {"param", s.key},
                   {"type", to_string(s.type)},
                   {"default", s.default_value}};
    if (s.minimum) o["minimum"] = number(*s.minimum);
    if (s.maximum) o["maximum"] = number(*s.maximum);
    if (!s.values.empty()) o["values"] = json::array(s.values.begin(), s.values.end());
    if (!s.description.empty()) o["description"] = s.description;
    out.push_back(std::move(o));
  }
  return out;
}

tl::expected<std::vector<ParamOverride>, ParamError> SessionParams::check(const std::string& pipeline,
                                                                          const json::object& given) const {
  std::vector<ParamOverride> out;
  for (const auto& [k, v] : given) {
    const std::string name(k);
    const ParamSpec* spec = nullptr;
    for (const auto& s : specs_)
      if (s.name == name) spec = &s;
    if (spec == nullptr) {
      std::vector<std::string> allowed;
      for (const auto& s : specs_) allowed.push_back(s.name);
      const auto dot = name.rfind('.');
      return tl::unexpected(ParamError{
          name, dot == std::string::npos ? std::string() : name.substr(0, dot),
          allowed.empty()
              ? fmt::format("session param '{}' is not allowed: pipeline '{}' allows none", name, pipeline)
              : fmt::format("session param '{}' is not allowed by pipeline '{}' (allowed: {})", name,
                            pipeline, fmt::join(allowed, ", "))});
    }
    if (auto why = refuse(*spec, v))
      return tl::unexpected(ParamError{name, spec->node, fmt::format("session param '{}' {}", name, *why)});
    json::value value = v;
    if (spec->type == Type::integer && v.is_double()) value = static_cast<std::int64_t>(v.get_double());
    out.push_back({spec->node, spec->key, std::move(value)});
  }
  return out;
}

}  // namespace rm::server
