#pragma once
// The syntax tree of a PromQL expression, as produced by promql::parse (parser.hpp) and walked
// by the evaluator (engine.hpp). Node kinds follow Prometheus' own AST (promql/parser/ast.go):
// literals, vector and matrix selectors, function calls, aggregations, unary and binary
// expressions. Times and durations are milliseconds, as in Prometheus.
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rm::promql {

enum class ValueType { scalar, vector, matrix, string };
std::string_view type_name(ValueType t);  // "scalar", "instant vector", "range vector", "string"

enum class MatchOp { equal, not_equal, regex, not_regex };

// One label matcher. Regular expressions are anchored at both ends, as Prometheus does
// (`=~"a.*"` matches "abc", not "xabc").
struct Matcher {
  std::string name;
  MatchOp op = MatchOp::equal;
  std::string value;
  std::shared_ptr<const std::regex> re;  // set for regex and not_regex

  bool matches(std::string_view v) const;
};

enum class BinOp {
  add,
  sub,
  mul,
  div,
  mod,
  pow,
  atan2,
  eq,
  ne,
  gt,
  lt,
  ge,
  le,
  land,
  lor,
  lunless,
};
bool is_comparison(BinOp op);
bool is_set_op(BinOp op);
std::string_view op_name(BinOp op);

enum class AggOp { sum, avg, count, min, max, group, stddev, stdvar, topk, bottomk, quantile, count_values };
std::string_view op_name(AggOp op);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct NumberLiteral {
  double value = 0;
};
struct StringLiteral {
  std::string value;
};
struct VectorSelector {
  std::string name;               // may be empty when only matchers are given
  std::vector<Matcher> matchers;  // includes __name__="<name>" when a name is given
  std::int64_t offset_ms = 0;
};
struct MatrixSelector {
  ExprPtr selector;  // always a VectorSelector
  std::int64_t range_ms = 0;
};
struct Call {
  std::string func;
  std::vector<ExprPtr> args;
};
struct Aggregate {
  AggOp op = AggOp::sum;
  ExprPtr param;  // topk/bottomk/quantile/count_values only
  ExprPtr expr;
  std::vector<std::string> grouping;
  bool without = false;
};
struct VectorMatching {
  bool on = false;  // on(...) given, else ignoring(...) or nothing
  std::vector<std::string> labels;
};
struct Binary {
  BinOp op = BinOp::add;
  ExprPtr lhs, rhs;
  bool return_bool = false;
  VectorMatching matching;
};
struct Unary {
  bool negate = false;
  ExprPtr expr;
};
struct Paren {
  ExprPtr expr;
};

struct Expr {
  std::variant<NumberLiteral, StringLiteral, VectorSelector, MatrixSelector, Call, Aggregate, Binary, Unary,
               Paren>
      node;
  std::size_t pos = 0;                 // byte offset in the query, for error messages
  ValueType type = ValueType::scalar;  // filled by the parser
};

// Prometheus' rendering of a duration ("5m", "1h30m", "90s" ...).
std::string format_duration(std::int64_t ms);

}  // namespace rm::promql
