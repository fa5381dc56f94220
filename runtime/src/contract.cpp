#include "runtime/contract.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace rm::runtime {

namespace {

constexpr DataType kAllTypes[] = {DataType::audio,  DataType::video,   DataType::text,
                                  DataType::tensor, DataType::control, DataType::numpy,
                                  DataType::file,   DataType::json,    DataType::binary};

std::string all_type_names() {
  std::vector<std::string> names;
  for (auto t : kAllTypes) names.emplace_back(to_string(t));
  return fmt::format("{}", fmt::join(names, ", "));
}

tl::expected<std::vector<DataType>, std::string> read_list(const boost::json::object& o,
                                                           std::string_view key) {
  std::vector<DataType> out;
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return tl::unexpected(fmt::format("{} must be a list of data types", key));
  const auto& a = v->get_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto* s = a[i].if_string();
    auto t = s ? data_type_from_string(*s) : std::nullopt;
    if (!t) {
      return tl::unexpected(fmt::format("{}[{}] {} is not a data type (one of {})", key, i,
                                        s ? fmt::format("\"{}\"", std::string_view(*s)) : "(not a string)",
                                        all_type_names()));
    }
    if (std::find(out.begin(), out.end(), *t) == out.end()) out.push_back(*t);
  }
  return out;
}

bool contains(const std::vector<DataType>& v, DataType t) {
  return std::find(v.begin(), v.end(), t) != v.end();
}

}  // namespace

std::optional<DataType> data_type_from_string(std::string_view name) {
  for (auto t : kAllTypes)
    if (to_string(t) == name) return t;
  return std::nullopt;
}

std::string type_list(const std::vector<DataType>& types) {
  if (types.empty()) return "any";
  std::vector<std::string> names;
  for (auto t : types) names.emplace_back(to_string(t));
  return fmt::format("{}", fmt::join(names, ", "));
}

tl::expected<DataContract, std::string> contract_from_json(const boost::json::value& v) {
  if (!v.is_object())
    return tl::unexpected(std::string("a contract must be an object with accepts and emits"));
  DataContract c;
  auto acc = read_list(v.get_object(), "accepts");
  if (!acc) return tl::unexpected(acc.error());
  auto emi = read_list(v.get_object(), "emits");
  if (!emi) return tl::unexpected(emi.error());
  c.accepts = std::move(*acc);
  c.emits = std::move(*emi);
  return c;
}

std::vector<DataType> edge_types(const DataContract& from, const DataContract& to) {
  if (from.emits.empty()) return to.accepts;
  if (to.accepts.empty()) return from.emits;
  std::vector<DataType> out;
  for (auto t : from.emits)
    if (contains(to.accepts, t)) out.push_back(t);
  return out;
}

std::optional<std::string> edge_mismatch(std::string_view from_id, const DataContract& from,
                                         std::string_view to_id, const DataContract& to) {
  if (from.emits.empty() || to.accepts.empty() || !edge_types(from, to).empty()) return std::nullopt;
  return fmt::format("connection {} -> {}: {} emits only {}, {} accepts only {}", from_id, to_id, from_id,
                     type_list(from.emits), to_id, type_list(to.accepts));
}

}  // namespace rm::runtime
