#include "runtime/node_registry.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/json/serialize.hpp>

namespace rm::runtime {

NodeRegistry& NodeRegistry::instance() {
  static NodeRegistry registry;
  return registry;
}

void NodeRegistry::add(NodeContract contract, NodeFactory factory) {
  std::lock_guard lock(mutex_);
  auto type = contract.node_type;
  if (entries_.count(type)) throw std::logic_error("node type registered twice: " + type);
  entries_.emplace(type, NodeRegistration{std::move(contract), std::move(factory)});
}

const NodeRegistration* NodeRegistry::find(std::string_view node_type) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(node_type);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<const NodeRegistration*> NodeRegistry::list() const {
  std::lock_guard lock(mutex_);
  std::vector<const NodeRegistration*> out;
  for (const auto& [_, r] : entries_) out.push_back(&r);
  return out;
}

namespace {

std::string_view kind_of(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
      return "integer";
    case boost::json::kind::double_:
      return "number";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::array:
      return "list";
    case boost::json::kind::object:
      return "object";
  }
  return "value";
}

bool is_integral(const boost::json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (v.is_double()) {
    double d = v.get_double();
    return std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15;
  }
  return false;
}

}  // namespace

tl::expected<boost::json::object, NodeError> NodeRegistry::validate_params(
    const NodeContract& contract, std::string_view node_id, const boost::json::value& params) const {
  auto fail = [&](std::string msg) {
    return tl::unexpected(NodeError{NodeErrorCode::invalid_params, fmt::format("node {}: {}", node_id, msg)});
  };
  boost::json::object in;
  if (params.is_object()) {
    in = params.get_object();
  } else if (!params.is_null()) {
    return fail(fmt::format("params must be a mapping, got {}", kind_of(params)));
  }
  for (const auto& [key, _] : in) {
    auto known = std::any_of(contract.params.begin(), contract.params.end(),
                             [&](const ParamSpec& p) { return p.name == key; });
    if (!known) {
      std::vector<std::string> names;
      for (const auto& p : contract.params) names.push_back(p.name);
      return fail(
          fmt::format("unknown param '{}' for {} (known: {})", std::string_view(key), contract.node_type,
                      names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
    }
  }
  boost::json::object out;
  for (const auto& spec : contract.params) {
    auto it = in.find(spec.name);
    if (it == in.end() || it->value().is_null()) {
      if (spec.required())
        return fail(fmt::format("params.{} is required ({})", spec.name, to_string(spec.type)));
      out[spec.name] = spec.default_value;
      continue;
    }
    const auto& v = it->value();
    auto wrong_type = [&] {
      return fail(fmt::format(
          "params.{} must be {}, got {} {}", spec.name,
          spec.type == ParamType::integer ? "an integer" : fmt::format("a {}", to_string(spec.type)),
          kind_of(v), boost::json::serialize(v)));
    };
    switch (spec.type) {
      case ParamType::boolean:
        if (!v.is_bool()) return wrong_type();
        break;
      case ParamType::integer:
        if (!is_integral(v)) return wrong_type();
        break;
      case ParamType::number:
        if (!v.is_number()) return wrong_type();
        break;
      case ParamType::string:
        if (!v.is_string()) return wrong_type();
        break;
      case ParamType::string_list:
        if (!v.is_array()) return wrong_type();
        for (const auto& e : v.get_array()) {
          if (!e.is_string()) return wrong_type();
        }
        break;
      case ParamType::object:
        if (!v.is_object()) return wrong_type();
        break;
      case ParamType::any:
        break;
    }
    if (v.is_number() && (spec.min || spec.max)) {
      double d = v.to_number<double>();
      if ((spec.min && d < *spec.min) || (spec.max && d > *spec.max)) {
        return fail(fmt::format("params.{} = {} is out of range [{}, {}]", spec.name, d,
                                spec.min ? fmt::format("{}", *spec.min) : "-inf",
                                spec.max ? fmt::format("{}", *spec.max) : "inf"));
      }
    }
    if (!spec.choices.empty()) {
      auto check = [&](std::string_view s) {
        return std::find(spec.choices.begin(), spec.choices.end(), s) != spec.choices.end();
      };
      std::vector<std::string_view> values;
      if (v.is_string()) values.push_back(v.get_string());
      if (v.is_array())
        for (const auto& e : v.get_array()) values.push_back(e.get_string());
      for (auto s : values) {
        if (!check(s))
          return fail(fmt::format("params.{} has '{}', expected one of: {}", spec.name, s,
                                  fmt::join(spec.choices, ", ")));
      }
    }
    // Normalise integers given as 2.0 to int64 so nodes can read them either way.
    if (spec.type == ParamType::integer) {
      out[spec.name] = v.to_number<std::int64_t>();
    } else {
      out[spec.name] = v;
    }
  }
  return out;
}

}  // namespace rm::runtime
