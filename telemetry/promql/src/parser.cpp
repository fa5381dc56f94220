// Pratt parser for PromQL with Prometheus' precedence and type rules (see parser.hpp).
#include "promql/parser.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#include "lexer.hpp"

namespace rm::promql {

using detail::Tok;
using detail::Token;

namespace {

// Every function of Prometheus 2.42, to tell "not supported here" from "no such function".
constexpr std::string_view kPrometheusFunctions[] = {"abs",
                                                     "absent",
                                                     "absent_over_time",
                                                     "acos",
                                                     "acosh",
                                                     "asin",
                                                     "asinh",
                                                     "atan",
                                                     "atanh",
                                                     "avg_over_time",
                                                     "ceil",
                                                     "changes",
                                                     "clamp",
                                                     "clamp_max",
                                                     "clamp_min",
                                                     "cos",
                                                     "cosh",
                                                     "count_over_time",
                                                     "days_in_month",
                                                     "day_of_month",
                                                     "day_of_week",
                                                     "day_of_year",
                                                     "deg",
                                                     "delta",
                                                     "deriv",
                                                     "exp",
                                                     "floor",
                                                     "histogram_count",
                                                     "histogram_sum",
                                                     "histogram_fraction",
                                                     "histogram_quantile",
                                                     "holt_winters",
                                                     "hour",
                                                     "idelta",
                                                     "increase",
                                                     "irate",
                                                     "label_replace",
                                                     "label_join",
                                                     "last_over_time",
                                                     "ln",
                                                     "log10",
                                                     "log2",
                                                     "max_over_time",
                                                     "min_over_time",
                                                     "minute",
                                                     "month",
                                                     "pi",
                                                     "predict_linear",
                                                     "present_over_time",
                                                     "quantile_over_time",
                                                     "rad",
                                                     "rate",
                                                     "resets",
                                                     "round",
                                                     "scalar",
                                                     "sgn",
                                                     "sin",
                                                     "sinh",
                                                     "sort",
                                                     "sort_desc",
                                                     "sqrt",
                                                     "stddev_over_time",
                                                     "stdvar_over_time",
                                                     "sum_over_time",
                                                     "tan",
                                                     "tanh",
                                                     "time",
                                                     "timestamp",
                                                     "vector",
                                                     "year"};

struct AggKeyword {
  std::string_view name;
  AggOp op;
};
constexpr std::array<AggKeyword, 12> kAggregators = {{{"sum", AggOp::sum},
                                                      {"avg", AggOp::avg},
                                                      {"count", AggOp::count},
                                                      {"min", AggOp::min},
                                                      {"max", AggOp::max},
                                                      {"group", AggOp::group},
                                                      {"stddev", AggOp::stddev},
                                                      {"stdvar", AggOp::stdvar},
                                                      {"topk", AggOp::topk},
                                                      {"bottomk", AggOp::bottomk},
                                                      {"quantile", AggOp::quantile},
                                                      {"count_values", AggOp::count_values}}};

// Binding powers; higher binds tighter.
constexpr int kPrecOr = 1, kPrecAnd = 2, kPrecCmp = 3, kPrecAdd = 4, kPrecMul = 5, kPrecPow = 6;

bool lower_equals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == y;
         });
}

bool valid_label_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Prometheus' shape: "<line>:<column>: parse error: <what>".
std::string parse_error(std::string_view q, std::size_t pos, std::string_view msg) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < pos && i < q.size(); ++i) {
    if (q[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return fmt::format("{}:{}: parse error: {}", line, col, msg);
}

struct Fail {
  Error error;
};

class Parser {
 public:
  Parser(std::string_view query, std::vector<Token> toks) : q_(query), toks_(std::move(toks)) {}

  ExprPtr run() {
    auto e = expr(0);
    if (peek().kind != Tok::eof) unexpected("");
    return e;
  }

 private:
  const Token& peek(std::size_t ahead = 0) const { return toks_[std::min(i_ + ahead, toks_.size() - 1)]; }
  Token take() { return toks_[std::min(i_++, toks_.size() - 1)]; }
  bool peek_ident(std::string_view word) const {
    return peek().kind == Tok::ident && lower_equals(peek().text, word);
  }

  [[noreturn]] void fail_at(std::size_t pos, const std::string& msg,
                            ErrorCode code = ErrorCode::parse) const {
    if (code == ErrorCode::unsupported) throw Fail{{code, msg}};
    throw Fail{{code, parse_error(q_, pos, msg)}};
  }
  [[noreturn]] void unsupported(std::size_t pos, const std::string& what) const {
    fail_at(pos,
            fmt::format("{} is not supported by this server (see docs/promql.md for the "
                        "supported subset)",
                        what),
            ErrorCode::unsupported);
  }
  [[noreturn]] void unexpected(std::string_view context) const {
    const Token& t = peek();
    std::string what = t.kind == Tok::eof      ? "end of input"
                       : t.kind == Tok::string ? fmt::format("string \"{}\"", t.text)
                       : t.kind == Tok::ident || t.kind == Tok::number || t.kind == Tok::duration
                           ? fmt::format("{} \"{}\"", describe(t.kind), t.text)
                           : std::string(describe(t.kind));
    fail_at(t.pos, context.empty() ? fmt::format("unexpected {}", what)
                                   : fmt::format("unexpected {} in {}", what, context));
  }
  Token expect(Tok kind, std::string_view context) {
    if (peek().kind != kind) {
      const Token& t = peek();
      fail_at(t.pos,
              fmt::format("unexpected {} in {}, expected {}",
                          t.kind == Tok::eof ? std::string("end of input") : fmt::format("\"{}\"", t.text),
                          context, describe(kind)));
    }
    return take();
  }

  template <typename T>
  ExprPtr make(T node, std::size_t pos, ValueType type) {
    auto e = std::make_unique<Expr>();
    e->node = std::move(node);
    e->pos = pos;
    e->type = type;
    return e;
  }

  // Binary operator at the cursor: its op and binding power (0 when none).
  int binary_op(BinOp& op) const {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::add:
        op = BinOp::add;
        return kPrecAdd;
      case Tok::sub:
        op = BinOp::sub;
        return kPrecAdd;
      case Tok::mul:
        op = BinOp::mul;
        return kPrecMul;
      case Tok::div:
        op = BinOp::div;
        return kPrecMul;
      case Tok::mod:
        op = BinOp::mod;
        return kPrecMul;
      case Tok::pow:
        op = BinOp::pow;
        return kPrecPow;
      case Tok::eql:
        op = BinOp::eq;
        return kPrecCmp;
      case Tok::neq:
        op = BinOp::ne;
        return kPrecCmp;
      case Tok::gtr:
        op = BinOp::gt;
        return kPrecCmp;
      case Tok::lss:
        op = BinOp::lt;
        return kPrecCmp;
      case Tok::gte:
        op = BinOp::ge;
        return kPrecCmp;
      case Tok::lte:
        op = BinOp::le;
        return kPrecCmp;
      case Tok::ident:
        if (lower_equals(t.text, "and")) {
          op = BinOp::land;
          return kPrecAnd;
        }
        if (lower_equals(t.text, "unless")) {
          op = BinOp::lunless;
          return kPrecAnd;
        }
        if (lower_equals(t.text, "or")) {
          op = BinOp::lor;
          return kPrecOr;
        }
        if (lower_equals(t.text, "atan2")) {
          op = BinOp::atan2;
          return kPrecMul;
        }
        return 0;
      default:
        return 0;
    }
  }

  ExprPtr expr(int min_prec) {
    ExprPtr lhs = unary();
    while (true) {
      BinOp op{};
      const int prec = binary_op(op);
      if (prec == 0 || prec < min_prec) return lhs;
      const std::size_t pos = take().pos;
      Binary b;
      b.op = op;
      if (peek_ident("bool")) {
        if (!is_comparison(op)) fail_at(peek().pos, "bool modifier can only be used on comparison operators");
        take();
        b.return_bool = true;
      }
      bool has_matching = false;
      if (peek_ident("on") || peek_ident("ignoring")) {
        has_matching = true;
        b.matching.on = lower_equals(take().text, "on");
        b.matching.labels = label_list("grouping");
      }
      if (peek_ident("group_left") || peek_ident("group_right")) {
        unsupported(peek().pos, fmt::format("many-to-one matching ({})", peek().text));
      }
      // ^ is right associative, everything else left associative.
      b.rhs = expr(op == BinOp::pow ? prec : prec + 1);
      b.lhs = std::move(lhs);
      lhs = binary(std::move(b), pos, has_matching);
    }
  }

  ExprPtr binary(Binary b, std::size_t pos, bool has_matching) {
    const ValueType lt = b.lhs->type, rt = b.rhs->type;
    for (ValueType t : {lt, rt}) {
      if (t != ValueType::scalar && t != ValueType::vector) {
        fail_at(pos, fmt::format("binary expression must contain only scalar and instant vector "
                                 "types, got {}",
                                 type_name(t)));
      }
    }
    const bool both_vectors = lt == ValueType::vector && rt == ValueType::vector;
    if (is_set_op(b.op) && !both_vectors) {
      fail_at(pos, fmt::format("set operator \"{}\" not allowed in binary scalar expression", op_name(b.op)));
    }
    if (has_matching && !both_vectors) {
      fail_at(pos, "vector matching only allowed between instant vectors");
    }
    if (is_comparison(b.op) && lt == ValueType::scalar && rt == ValueType::scalar && !b.return_bool) {
      fail_at(pos, "comparisons between scalars must use BOOL modifier");
    }
    const ValueType type =
        lt == ValueType::scalar && rt == ValueType::scalar ? ValueType::scalar : ValueType::vector;
    return make(std::move(b), pos, type);
  }

  ExprPtr unary() {
    if (peek().kind == Tok::add || peek().kind == Tok::sub) {
      const Token op = take();
      ExprPtr operand = expr(kPrecPow);
      if (operand->type != ValueType::scalar && operand->type != ValueType::vector) {
        fail_at(op.pos, fmt::format("unary expression only allowed on expressions of type scalar "
                                    "or instant vector, got {}",
                                    type_name(operand->type)));
      }
      if (op.kind == Tok::add) return operand;
      if (auto* n = std::get_if<NumberLiteral>(&operand->node)) {
        n->value = -n->value;
        operand->pos = op.pos;
        return operand;
      }
      const ValueType t = operand->type;
      return make(Unary{true, std::move(operand)}, op.pos, t);
    }
    return postfix(primary());
  }

  ExprPtr postfix(ExprPtr e) {
    while (true) {
      if (peek().kind == Tok::lbracket) {
        const std::size_t pos = take().pos;
        if (!std::holds_alternative<VectorSelector>(e->node)) {
          if (peek(1).kind == Tok::colon || peek().kind == Tok::colon) unsupported(pos, "subquery");
          fail_at(pos, "ranges only allowed for vector selectors");
        }
        const std::int64_t range = duration("range");
        if (peek().kind == Tok::colon) unsupported(pos, "subquery");
        expect(Tok::rbracket, "range selector");
        if (range <= 0) fail_at(pos, "range selector must be positive");
        const std::size_t selector_pos = e->pos;  // before e is moved from
        e = make(MatrixSelector{std::move(e), range}, selector_pos, ValueType::matrix);
      } else if (peek_ident("offset")) {
        const std::size_t pos = take().pos;
        bool negative = false;
        if (peek().kind == Tok::sub || peek().kind == Tok::add) negative = take().kind == Tok::sub;
        std::int64_t off = duration("offset");
        if (negative) off = -off;
        VectorSelector* vs = std::get_if<VectorSelector>(&e->node);
        if (auto* ms = std::get_if<MatrixSelector>(&e->node)) {
          vs = &std::get<VectorSelector>(ms->selector->node);
        }
        if (!vs) {
          fail_at(pos,
                  "offset modifier must be preceded by an instant vector selector or range "
                  "vector selector");
        }
        if (vs->offset_ms != 0) fail_at(pos, "offset may not be set multiple times");
        vs->offset_ms = off;
      } else if (peek().kind == Tok::at) {
        unsupported(peek().pos, "the @ modifier");
      } else {
        return e;
      }
    }
  }

  std::int64_t duration(std::string_view context) {
    if (peek().kind != Tok::duration) {
      const Token& t = peek();
      fail_at(t.pos,
              fmt::format("unexpected {} in {}, expected duration",
                          t.kind == Tok::eof ? std::string("end of input") : fmt::format("\"{}\"", t.text),
                          context));
    }
    const Token t = take();
    auto d = parse_duration(t.text);
    if (!d) fail_at(t.pos, d.error().message);
    return *d;
  }

  std::vector<std::string> label_list(std::string_view context) {
    expect(Tok::lparen, context);
    std::vector<std::string> out;
    while (peek().kind != Tok::rparen) {
      const Token t = take();
      if (t.kind != Tok::ident || !valid_label_name(t.text)) {
        --i_;
        unexpected(fmt::format("{} opts", context));
      }
      out.push_back(t.text);
      if (peek().kind == Tok::comma) {
        take();
      } else if (peek().kind != Tok::rparen) {
        unexpected(fmt::format("{} opts", context));
      }
    }
    take();
    return out;
  }

  ExprPtr primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::number: {
        const Token n = take();
        return make(NumberLiteral{number(n)}, n.pos, ValueType::scalar);
      }
      case Tok::string: {
        const Token s = take();
        return make(StringLiteral{s.text}, s.pos, ValueType::string);
      }
      case Tok::lparen: {
        const std::size_t pos = take().pos;
        ExprPtr inner = expr(0);
        expect(Tok::rparen, "paren expression");
        const ValueType type = inner->type;
        return make(Paren{std::move(inner)}, pos, type);
      }
      case Tok::lbrace:
        return selector("", t.pos);
      case Tok::ident:
        break;
      default:
        unexpected("");
    }
    const Token id = take();
    if (lower_equals(id.text, "inf") || lower_equals(id.text, "nan")) {
      return make(NumberLiteral{number(id)}, id.pos, ValueType::scalar);
    }
    for (const auto& a : kAggregators) {
      if (lower_equals(id.text, a.name) &&
          (peek().kind == Tok::lparen || peek_ident("by") || peek_ident("without"))) {
        return aggregate(a.op, id.pos);
      }
    }
    if (peek().kind == Tok::lparen) return call(id);
    for (std::string_view kw : {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                                "offset", "and", "or", "unless", "atan2"}) {
      if (lower_equals(id.text, kw)) {
        --i_;
        unexpected("");
      }
    }
    return selector(id.text, id.pos);
  }

  double number(const Token& t) {
    const std::string& s = t.text;
    if (lower_equals(s, "inf")) return std::numeric_limits<double>::infinity();
    if (lower_equals(s, "nan")) return std::numeric_limits<double>::quiet_NaN();
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      return static_cast<double>(std::strtoull(s.c_str() + 2, nullptr, 16));
    }
    return std::strtod(s.c_str(), nullptr);
  }

  ExprPtr aggregate(AggOp op, std::size_t pos) {
    Aggregate a;
    a.op = op;
    bool grouped = false;
    auto grouping = [&] {
      if (peek_ident("by") || peek_ident("without")) {
        if (grouped) fail_at(peek().pos, "aggregation can only have one grouping clause");
        grouped = true;
        a.without = lower_equals(take().text, "without");
        a.grouping = label_list("grouping");
      }
    };
    grouping();
    expect(Tok::lparen, "aggregation");
    const bool has_param =
        op == AggOp::topk || op == AggOp::bottomk || op == AggOp::quantile || op == AggOp::count_values;
    if (has_param) {
      a.param = expr(0);
      expect(Tok::comma, "aggregation");
    }
    a.expr = expr(0);
    if (peek().kind == Tok::comma && !has_param) {
      fail_at(peek().pos, fmt::format("wrong number of arguments for aggregate expression "
                                      "provided, expected 1, got 2"));
    }
    expect(Tok::rparen, "aggregation");
    grouping();
    if (a.expr->type != ValueType::vector) {
      fail_at(a.expr->pos, fmt::format("expected type instant vector in aggregation expression, "
                                       "got {}",
                                       type_name(a.expr->type)));
    }
    if (has_param) {
      const ValueType want = op == AggOp::count_values ? ValueType::string : ValueType::scalar;
      if (a.param->type != want) {
        fail_at(a.param->pos, fmt::format("expected type {} in aggregation parameter, got {}",
                                          type_name(want), type_name(a.param->type)));
      }
    }
    if (op == AggOp::count_values) unsupported(pos, "the count_values aggregation");
    return make(std::move(a), pos, ValueType::vector);
  }

  ExprPtr call(const Token& id) {
    const FunctionInfo* f = find_function(id.text);
    if (!f) {
      if (std::find(std::begin(kPrometheusFunctions), std::end(kPrometheusFunctions), id.text) !=
          std::end(kPrometheusFunctions)) {
        unsupported(id.pos, fmt::format("function \"{}\"", id.text));
      }
      fail_at(id.pos, fmt::format("unknown function with name \"{}\"", id.text));
    }
    take();  // (
    Call c;
    c.func = id.text;
    while (peek().kind != Tok::rparen) {
      c.args.push_back(expr(0));
      if (peek().kind == Tok::comma) {
        take();
      } else if (peek().kind != Tok::rparen) {
        unexpected("function call");
      }
    }
    take();
    const std::size_t max_args = f->args.size();
    const std::size_t min_args = max_args - static_cast<std::size_t>(f->optional_args);
    if (c.args.size() < min_args || c.args.size() > max_args) {
      fail_at(id.pos, fmt::format("expected {} argument(s) in call to \"{}\", got {}",
                                  min_args == max_args ? std::to_string(max_args)
                                                       : fmt::format("{} to {}", min_args, max_args),
                                  f->name, c.args.size()));
    }
    for (std::size_t i = 0; i < c.args.size(); ++i) {
      if (c.args[i]->type != f->args[i]) {
        fail_at(c.args[i]->pos, fmt::format("expected type {} in call to function \"{}\", got {}",
                                            type_name(f->args[i]), f->name, type_name(c.args[i]->type)));
      }
    }
    return make(std::move(c), id.pos, f->result);
  }

  ExprPtr selector(const std::string& name, std::size_t pos) {
    VectorSelector vs;
    vs.name = name;
    if (peek().kind == Tok::lbrace) {
      take();
      while (peek().kind != Tok::rbrace) {
        const Token label = take();
        if (label.kind != Tok::ident || !valid_label_name(label.text)) {
          --i_;
          unexpected("label matching");
        }
        Matcher m;
        m.name = label.text;
        switch (peek().kind) {
          case Tok::assign:
            m.op = MatchOp::equal;
            break;
          case Tok::neq:
            m.op = MatchOp::not_equal;
            break;
          case Tok::eql_regex:
            m.op = MatchOp::regex;
            break;
          case Tok::neq_regex:
            m.op = MatchOp::not_regex;
            break;
          default:
            unexpected("label matching, expected one of \"=\", \"!=\", \"=~\" or \"!~\"");
        }
        take();
        if (peek().kind != Tok::string) unexpected("label matching, expected string");
        const Token value = take();
        m.value = value.text;
        if (m.op == MatchOp::regex || m.op == MatchOp::not_regex) {
          try {
            m.re = std::make_shared<const std::regex>("^(?:" + m.value + ")$", std::regex::ECMAScript);
          } catch (const std::regex_error& e) {
            fail_at(value.pos, fmt::format("invalid regular expression \"{}\": {}", m.value, e.what()));
          }
        }
        if (m.name == "__name__") {
          if (!name.empty()) {
            fail_at(label.pos,
                    fmt::format("metric name must not be set twice: \"{}\" or \"{}\"", name, m.value));
          }
        }
        vs.matchers.push_back(std::move(m));
        if (peek().kind == Tok::comma) {
          take();
        } else if (peek().kind != Tok::rbrace) {
          unexpected("label matching, expected \",\" or \"}\"");
        }
      }
      take();
    }
    if (!name.empty())
      vs.matchers.insert(vs.matchers.begin(), Matcher{"__name__", MatchOp::equal, name, nullptr});
    if (std::none_of(vs.matchers.begin(), vs.matchers.end(),
                     [](const Matcher& m) { return !m.matches(""); })) {
      fail_at(pos, "vector selector must contain at least one non-empty matcher");
    }
    return make(std::move(vs), pos, ValueType::vector);
  }

  std::string_view q_;
  std::vector<Token> toks_;
  std::size_t i_ = 0;
};

}  // namespace

tl::expected<std::int64_t, Error> parse_duration(std::string_view text) {
  auto bad = [&] {
    return tl::unexpected(Error{ErrorCode::parse, fmt::format("not a valid duration string: \"{}\"", text)});
  };
  std::int64_t total = 0;
  std::size_t i = 0;
  if (text.empty()) return tl::unexpected(Error{ErrorCode::parse, "empty duration string"});
  while (i < text.size()) {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec != std::errc{} || end == text.data() + i) return bad();
    i = static_cast<std::size_t>(end - text.data());
    std::int64_t unit = 0;
    if (text.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (i < text.size()) {
      switch (text[i]) {
        case 's':
          unit = 1000;
          break;
        case 'm':
          unit = 60'000;
          break;
        case 'h':
          unit = 3'600'000;
          break;
        case 'd':
          unit = 86'400'000;
          break;
        case 'w':
          unit = 7 * 86'400'000LL;
          break;
        case 'y':
          unit = 365 * 86'400'000LL;
          break;
        default:
          break;
      }
      if (unit) ++i;
    }
    if (unit == 0) return bad();
    total += n * unit;
  }
  return total;
}

tl::expected<ExprPtr, Error> parse(std::string_view query) {
  auto toks = detail::lex(query);
  if (!toks) {
    return tl::unexpected(
        Error{ErrorCode::parse, parse_error(query, toks.error().pos, toks.error().message)});
  }
  if (toks->size() == 1)
    return tl::unexpected(Error{ErrorCode::parse, "1:1: parse error: no expression found in input"});
  try {
    return Parser(query, std::move(*toks)).run();
  } catch (const Fail& f) {
    return tl::unexpected(f.error);
  }
}

}  // namespace rm::promql
