#include "runtime/node.hpp"

#include <stdexcept>

namespace rm::runtime {

std::string_view to_string(ParamType t) {
  switch (t) {
    case ParamType::boolean:
      return "boolean";
    case ParamType::integer:
      return "integer";
    case ParamType::number:
      return "number";
    case ParamType::string:
      return "string";
    case ParamType::string_list:
      return "list of strings";
    case ParamType::object:
      return "object";
    case ParamType::any:
      return "any";
  }
  return "any";
}

namespace {
const boost::json::value& at(const boost::json::object& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) throw std::out_of_range("missing param " + std::string(name));
  return it->value();
}
}  // namespace

double param_number(const boost::json::object& params, std::string_view name) {
  return at(params, name).to_number<double>();
}
std::int64_t param_int(const boost::json::object& params, std::string_view name) {
  return at(params, name).to_number<std::int64_t>();
}
bool param_bool(const boost::json::object& params, std::string_view name) {
  return at(params, name).as_bool();
}
std::string param_string(const boost::json::object& params, std::string_view name) {
  return std::string(at(params, name).as_string());
}
std::vector<std::string> param_strings(const boost::json::object& params, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& v : at(params, name).as_array()) out.emplace_back(v.as_string());
  return out;
}

}  // namespace rm::runtime
