#pragma once
// PromQL parser: a hand-written lexer and a Pratt (precedence-climbing) parser with
// Prometheus' operator precedence, lowest first:
//   or < and, unless < == != <= < >= > < + - < * / % atan2 < ^ (right associative)
// Unary minus binds like * (so -2^2 is -(2^2)), as in Prometheus' grammar.
// The parser also checks types (a function's argument kinds, range selectors only on
// selectors, scalar comparisons need `bool`), so the evaluator never sees an ill-typed tree.
//
// Errors carry Prometheus' message shape ("1:8: parse error: unexpected ..."); parts of the
// language this engine does not implement (subqueries, @, group_left/group_right, functions
// outside the supported set) are reported as `unsupported` naming the construct.
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "promql/ast.hpp"

namespace rm::promql {

enum class ErrorCode {
  parse,        // not valid PromQL
  unsupported,  // valid PromQL that this engine does not implement
  execution,    // a query that fails while evaluating (duplicate label sets, too many points)
};

struct Error {
  ErrorCode code = ErrorCode::parse;
  std::string message;
};

[[nodiscard]] tl::expected<ExprPtr, Error> parse(std::string_view query);

// Parses a Prometheus duration ("5m", "1h30m", "250ms") into milliseconds; used by the HTTP
// API for `step`. Errors: ErrorCode::parse, the message quoting the text.
[[nodiscard]] tl::expected<std::int64_t, Error> parse_duration(std::string_view text);

// The functions this engine evaluates, and the kinds of their arguments.
struct FunctionInfo {
  std::string_view name;
  std::vector<ValueType> args;
  int optional_args = 0;  // trailing args that may be left out
  ValueType result = ValueType::vector;
};
const FunctionInfo* find_function(std::string_view name);

}  // namespace rm::promql
