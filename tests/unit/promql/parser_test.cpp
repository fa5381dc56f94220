// The parser: Prometheus' precedence and associativity, its type rules and error messages,
// and a named error for everything outside the supported subset.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "promql/parser.hpp"

using namespace rm::promql;

namespace {

std::string shape(const Expr& e);

std::string shape(const ExprPtr& e) {
  return shape(*e);
}

std::string shape(const Expr& e) {
  return std::visit(
      [](const auto& n) -> std::string {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, NumberLiteral>) {
          return fmt::format("{}", n.value);
        } else if constexpr (std::is_same_v<T, StringLiteral>) {
          return "\"" + n.value + "\"";
        } else if constexpr (std::is_same_v<T, VectorSelector>) {
          std::string s = n.name.empty() ? "{...}" : n.name;
          if (n.offset_ms) s += " offset " + format_duration(n.offset_ms);
          return s;
        } else if constexpr (std::is_same_v<T, MatrixSelector>) {
          return shape(n.selector) + "[" + format_duration(n.range_ms) + "]";
        } else if constexpr (std::is_same_v<T, Call>) {
          std::string s = n.func + "(";
          for (std::size_t i = 0; i < n.args.size(); ++i) s += (i ? ", " : "") + shape(n.args[i]);
          return s + ")";
        } else if constexpr (std::is_same_v<T, Aggregate>) {
          std::string s(op_name(n.op));
          if (!n.grouping.empty() || n.without) {
            s += n.without ? " without(" : " by(";
            for (std::size_t i = 0; i < n.grouping.size(); ++i) s += (i ? "," : "") + n.grouping[i];
            s += ")";
          }
          return s + "(" + (n.param ? shape(n.param) + ", " : "") + shape(n.expr) + ")";
        } else if constexpr (std::is_same_v<T, Binary>) {
          return "(" + shape(n.lhs) + " " + std::string(op_name(n.op)) + (n.return_bool ? " bool" : "") +
                 " " + shape(n.rhs) + ")";
        } else if constexpr (std::is_same_v<T, Unary>) {
          return "-" + shape(n.expr);
        } else {
          return shape(n.expr);
        }
      },
      e.node);
}

std::string parsed(const std::string& q) {
  auto e = parse(q);
  if (!e) return "error: " + e.error().message;
  return shape(*e);
}

Error error_of(const std::string& q) {
  auto e = parse(q);
  EXPECT_FALSE(e) << q;
  return e ? Error{} : e.error();
}

}  // namespace

TEST(PromqlParser, binary_operators_bind_with_prometheus_precedence) {
  EXPECT_EQ(parsed("a + b * c"), "(a + (b * c))");
  EXPECT_EQ(parsed("a * b + c"), "((a * b) + c)");
  EXPECT_EQ(parsed("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(parsed("a ^ b ^ c"), "(a ^ (b ^ c))");
  EXPECT_EQ(parsed("a or b and c"), "(a or (b and c))");
  EXPECT_EQ(parsed("a > b + c"), "(a > (b + c))");
  EXPECT_EQ(parsed("a and b unless c"), "((a and b) unless c)");
  EXPECT_EQ(parsed("a == bool b"), "(a == bool b)");
  EXPECT_EQ(parsed("a atan2 b * c"), "((a atan2 b) * c)");
}

TEST(PromqlParser, unary_minus_binds_like_multiplication_so_power_binds_tighter) {
  EXPECT_EQ(parsed("-a ^ 2"), "-(a ^ 2)");
  EXPECT_EQ(parsed("-a * b"), "(-a * b)");
  EXPECT_EQ(parsed("-1"), "-1");
}

TEST(PromqlParser, selectors_functions_and_aggregations_parse_with_their_modifiers) {
  EXPECT_EQ(parsed("rate(DCGM_FI_DEV_GPU_UTIL{Hostname=~\"mtv5-.*\"}[5m] offset 1h)"),
            "rate(DCGM_FI_DEV_GPU_UTIL offset 1h[5m])");
  EXPECT_EQ(parsed("sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)"),
            "sum by(Hostname)(DCGM_FI_DEV_POWER_USAGE)");
  EXPECT_EQ(parsed("avg(DCGM_FI_DEV_GPU_TEMP) without (gpu, UUID)"),
            "avg without(gpu,UUID)(DCGM_FI_DEV_GPU_TEMP)");
  EXPECT_EQ(parsed("topk(5, DCGM_FI_DEV_GPU_UTIL)"), "topk(5, DCGM_FI_DEV_GPU_UTIL)");
  EXPECT_EQ(parsed("{__name__=\"x\", a!=\"b\",}"), "{...}");
  EXPECT_EQ(parsed("0x10 + 1e2 + .5"), "((16 + 100) + 0.5)");
}

TEST(PromqlParser, type_errors_name_the_expected_and_found_types) {
  EXPECT_EQ(error_of("rate(x)").message,
            "1:6: parse error: expected type range vector in call to function \"rate\", got "
            "instant vector");
  EXPECT_EQ(error_of("sum(x[5m])").message,
            "1:5: parse error: expected type instant vector in aggregation expression, got range "
            "vector");
  EXPECT_EQ(error_of("1 > 2").message,
            "1:3: parse error: comparisons between scalars must use BOOL modifier");
  EXPECT_EQ(error_of("x[5m] + 1").message,
            "1:7: parse error: binary expression must contain only scalar and instant vector "
            "types, got range vector");
  EXPECT_EQ(error_of("{a=~\".*\"}").message,
            "1:1: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(error_of("rate(x[5m], 1)").message,
            "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2");
}

TEST(PromqlParser, syntax_errors_say_where_and_what_was_unexpected) {
  EXPECT_EQ(error_of("sum(x").message,
            "1:6: parse error: unexpected end of input in aggregation, expected \")\"");
  EXPECT_EQ(error_of("x{a=\"b\"").message,
            "1:8: parse error: unexpected end of input in label matching, expected \",\" or \"}\"");
  EXPECT_EQ(error_of("x{a=\"b").message, "1:5: parse error: unterminated quoted string");
  EXPECT_EQ(error_of("nosuchfunc(x)").message, "1:1: parse error: unknown function with name \"nosuchfunc\"");
  EXPECT_EQ(error_of("").message, "1:1: parse error: no expression found in input");
  EXPECT_EQ(error_of("x{a=~\"(\"}").code, ErrorCode::parse);
}

TEST(PromqlParser, constructs_outside_the_subset_are_unsupported_and_named) {
  struct Case {
    const char* query;
    const char* names;
  };
  for (const Case& c : {Case{"histogram_quantile(0.9, x)", "function \"histogram_quantile\""},
                        Case{"label_replace(x, \"a\", \"b\", \"c\", \"d\")", "function \"label_replace\""},
                        Case{"rate(x[5m:1m])", "subquery"}, Case{"x @ 100", "the @ modifier"},
                        Case{"a * on(b) group_left c", "many-to-one matching (group_left)"},
                        Case{"count_values(\"v\", x)", "the count_values aggregation"}}) {
    auto e = error_of(c.query);
    EXPECT_EQ(e.code, ErrorCode::unsupported) << c.query;
    EXPECT_EQ(e.message.rfind(c.names, 0), 0u) << e.message;
    EXPECT_NE(e.message.find("not supported"), std::string::npos) << e.message;
  }
}

TEST(PromqlParser, every_prefix_of_a_valid_query_parses_or_fails_cleanly) {
  const std::string q =
      "sum by (Hostname) (rate(DCGM_FI_DEV_GPU_UTIL{gpu=~\"0|1\", UUID!=\"x\"}[5m] offset 1m)) "
      "/ on(Hostname) group_left count(up) > bool 0.5 or -max_over_time(y[1h])";
  for (std::size_t n = 0; n <= q.size(); ++n) {
    auto e = parse(q.substr(0, n));
    if (!e) {
      EXPECT_FALSE(e.error().message.empty());
    }
  }
}

TEST(PromqlParser, durations_parse_in_prometheus_units) {
  EXPECT_EQ(parse_duration("1h30m").value(), 5'400'000);
  EXPECT_EQ(parse_duration("250ms").value(), 250);
  EXPECT_EQ(parse_duration("2d").value(), 172'800'000);
  EXPECT_FALSE(parse_duration("5x"));
  EXPECT_FALSE(parse_duration(""));
}
