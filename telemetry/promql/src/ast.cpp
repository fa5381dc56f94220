#include "promql/ast.hpp"

#include <array>

#include "promql/parser.hpp"

namespace rm::promql {

std::string_view type_name(ValueType t) {
  switch (t) {
    case ValueType::scalar:
      return "scalar";
    case ValueType::vector:
      return "instant vector";
    case ValueType::matrix:
      return "range vector";
    case ValueType::string:
      return "string";
  }
  return "?";
}

bool Matcher::matches(std::string_view v) const {
  switch (op) {
    case MatchOp::equal:
      return v == value;
    case MatchOp::not_equal:
      return v != value;
    case MatchOp::regex:
      return std::regex_match(v.begin(), v.end(), *re);
    case MatchOp::not_regex:
      return !std::regex_match(v.begin(), v.end(), *re);
  }
  return false;
}

bool is_comparison(BinOp op) {
  return op == BinOp::eq || op == BinOp::ne || op == BinOp::gt || op == BinOp::lt || op == BinOp::ge ||
         op == BinOp::le;
}
bool is_set_op(BinOp op) {
  return op == BinOp::land || op == BinOp::lor || op == BinOp::lunless;
}

std::string_view op_name(BinOp op) {
  switch (op) {
    case BinOp::add:
      return "+";
    case BinOp::sub:
      return "-";
    case BinOp::mul:
      return "*";
    case BinOp::div:
      return "/";
    case BinOp::mod:
      return "%";
    case BinOp::pow:
      return "^";
    case BinOp::atan2:
      return "atan2";
    case BinOp::eq:
      return "==";
    case BinOp::ne:
      return "!=";
    case BinOp::gt:
      return ">";
    case BinOp::lt:
      return "<";
    case BinOp::ge:
      return ">=";
    case BinOp::le:
      return "<=";
    case BinOp::land:
      return "and";
    case BinOp::lor:
      return "or";
    case BinOp::lunless:
      return "unless";
  }
  return "?";
}

std::string_view op_name(AggOp op) {
  switch (op) {
    case AggOp::sum:
      return "sum";
    case AggOp::avg:
      return "avg";
    case AggOp::count:
      return "count";
    case AggOp::min:
      return "min";
    case AggOp::max:
      return "max";
    case AggOp::group:
      return "group";
    case AggOp::stddev:
      return "stddev";
    case AggOp::stdvar:
      return "stdvar";
    case AggOp::topk:
      return "topk";
    case AggOp::bottomk:
      return "bottomk";
    case AggOp::quantile:
      return "quantile";
    case AggOp::count_values:
      return "count_values";
  }
  return "?";
}

std::string format_duration(std::int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  struct Unit {
    std::int64_t ms;
    const char* name;
  };
  static constexpr std::array<Unit, 7> kUnits{{{365LL * 24 * 3600 * 1000, "y"},
                                               {7LL * 24 * 3600 * 1000, "w"},
                                               {24LL * 3600 * 1000, "d"},
                                               {3600LL * 1000, "h"},
                                               {60LL * 1000, "m"},
                                               {1000, "s"},
                                               {1, "ms"}}};
  for (const auto& u : kUnits) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  return out;
}

const FunctionInfo* find_function(std::string_view name) {
  using V = ValueType;
  static const std::vector<FunctionInfo> kFunctions = {
      {"rate", {V::matrix}},
      {"irate", {V::matrix}},
      {"increase", {V::matrix}},
      {"delta", {V::matrix}},
      {"idelta", {V::matrix}},
      {"avg_over_time", {V::matrix}},
      {"max_over_time", {V::matrix}},
      {"min_over_time", {V::matrix}},
      {"sum_over_time", {V::matrix}},
      {"count_over_time", {V::matrix}},
      {"last_over_time", {V::matrix}},
      {"stddev_over_time", {V::matrix}},
      {"stdvar_over_time", {V::matrix}},
      {"abs", {V::vector}},
      {"ceil", {V::vector}},
      {"floor", {V::vector}},
      {"sqrt", {V::vector}},
      {"exp", {V::vector}},
      {"ln", {V::vector}},
      {"log2", {V::vector}},
      {"log10", {V::vector}},
      {"round", {V::vector, V::scalar}, 1},
      {"clamp", {V::vector, V::scalar, V::scalar}},
      {"clamp_min", {V::vector, V::scalar}},
      {"clamp_max", {V::vector, V::scalar}},
      {"scalar", {V::vector}, 0, V::scalar},
      {"vector", {V::scalar}},
      {"time", {}, 0, V::scalar},
  };
  for (const auto& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace rm::promql
