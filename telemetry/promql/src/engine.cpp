// Evaluator core: loading selectors, stepping, selectors, function calls, query results.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "evaluator.hpp"

namespace rm::promql {

using namespace detail;

namespace {

[[noreturn]] void fail(std::string msg) {
  throw EvalFailure{Error{ErrorCode::execution, std::move(msg)}};
}

std::string labels_key(const Labels& l) {
  std::string k;
  for (const auto& [n, v] : l) {
    k += n;
    k += '\xff';
    k += v;
    k += '\xfe';
  }
  return k;
}

const Expr& unwrap(const Expr& e) {
  const Expr* p = &e;
  while (auto* paren = std::get_if<Paren>(&p->node)) p = paren->expr.get();
  return *p;
}

}  // namespace

namespace detail {

Evaluator::Evaluator(const Storage& storage, const EngineOptions& opts, std::int64_t start, std::int64_t end)
    : storage_(storage), opts_(opts), start_(start), end_(end) {}

LabelsRef Evaluator::intern(Labels labels) {
  auto key = labels_key(labels);
  auto it = interned_.find(key);
  if (it != interned_.end()) return it->second.get();
  auto owned = std::make_unique<Labels>(std::move(labels));
  LabelsRef ref = owned.get();
  interned_.emplace(std::move(key), std::move(owned));
  return ref;
}

LabelsRef Evaluator::drop_name(LabelsRef l) {
  auto it = dropped_.find(l);
  if (it != dropped_.end()) return it->second;
  Labels out;
  out.reserve(l->size());
  for (const auto& p : *l) {
    if (p.first != "__name__") out.push_back(p);
  }
  LabelsRef r = out.size() == l->size() ? l : intern(std::move(out));
  dropped_.emplace(l, r);
  return r;
}

void Evaluator::check_unique(const Vector& v, const Expr& e) const {
  if (v.size() < 2) return;
  // Label sets are interned: equal sets are the same pointer.
  scratch_.clear();
  for (const auto& s : v) scratch_.push_back(s.labels);
  std::sort(scratch_.begin(), scratch_.end(), std::less<>());
  auto dup = std::adjacent_find(scratch_.begin(), scratch_.end());
  if (dup != scratch_.end()) {
    fail(fmt::format("vector cannot contain metrics with the same labelset (at offset {}: {})", e.pos,
                     format_labels(**dup)));
  }
}

void Evaluator::count_samples(std::size_t n) {
  samples_ += n;
  if (samples_ > opts_.max_samples) {
    fail(
        fmt::format("query processing would load too many samples into memory in query "
                    "execution (more than {})",
                    opts_.max_samples));
  }
}

void Evaluator::load(const Expr& root) {
  struct Walker {
    Evaluator& ev;
    void walk(const Expr& e, std::int64_t range) {
      std::visit(
          [&](const auto& n) {
            using T = std::decay_t<decltype(n)>;
            if constexpr (std::is_same_v<T, VectorSelector>) {
              const std::int64_t before = range > 0 ? range : ev.opts_.lookback_ms;
              auto series =
                  ev.storage_.select(n.matchers, ev.start_ - n.offset_ms - before, ev.end_ - n.offset_ms);
              auto& out = ev.loaded_[&e];
              out.reserve(series.size());
              for (auto& s : series) {
                if (range > 0) {  // range selectors ignore staleness markers
                  std::erase_if(s.samples, [](const Sample& x) { return is_stale_marker(x.v); });
                }
                ev.count_samples(s.samples.size());
                out.push_back(Loaded{ev.intern(std::move(s.labels)), std::move(s.samples)});
              }
            } else if constexpr (std::is_same_v<T, MatrixSelector>) {
              walk(*n.selector, n.range_ms);
            } else if constexpr (std::is_same_v<T, Call>) {
              for (const auto& a : n.args) walk(*a, 0);
            } else if constexpr (std::is_same_v<T, Aggregate>) {
              if (n.param) walk(*n.param, 0);
              walk(*n.expr, 0);
            } else if constexpr (std::is_same_v<T, Binary>) {
              walk(*n.lhs, 0);
              walk(*n.rhs, 0);
            } else if constexpr (std::is_same_v<T, Unary> || std::is_same_v<T, Paren>) {
              walk(*n.expr, 0);
            }
          },
          e.node);
    }
  };
  Walker{*this}.walk(root, 0);
}

Value Evaluator::eval(const Expr& e, std::int64_t t) {
  return std::visit(
      [&](const auto& n) -> Value {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, NumberLiteral>) {
          return Value{ValueType::scalar, n.value, {}, {}};
        } else if constexpr (std::is_same_v<T, StringLiteral>) {
          return Value{ValueType::string, 0, {}, n.value};
        } else if constexpr (std::is_same_v<T, Paren>) {
          return eval(*n.expr, t);
        } else if constexpr (std::is_same_v<T, Unary>) {
          Value v = eval(*n.expr, t);
          if (v.type == ValueType::scalar) {
            v.scalar = -v.scalar;
          } else {
            for (auto& s : v.vec) {
              s.labels = drop_name(s.labels);
              s.v = -s.v;
            }
            check_unique(v.vec, e);
          }
          return v;
        } else if constexpr (std::is_same_v<T, VectorSelector>) {
          return selector(n, e, t);
        } else if constexpr (std::is_same_v<T, MatrixSelector>) {
          fail("a range vector can only be an argument of a function or the whole query");
        } else if constexpr (std::is_same_v<T, Call>) {
          return call(n, e, t);
        } else if constexpr (std::is_same_v<T, Aggregate>) {
          return aggregate(n, e, t);
        } else {
          return binary(n, e, t);
        }
      },
      e.node);
}

Value Evaluator::selector(const VectorSelector& vs, const Expr& e, std::int64_t t) {
  Value out;
  const std::int64_t ref = t - vs.offset_ms;
  for (auto& s : loaded_[&e]) {
    while (s.hi < s.samples.size() && s.samples[s.hi].t <= ref) ++s.hi;
    if (s.hi == 0) continue;
    const Sample& last = s.samples[s.hi - 1];
    if (last.t < ref - opts_.lookback_ms || is_stale_marker(last.v)) continue;
    out.vec.push_back({s.labels, last.v});
  }
  return out;
}

bool Evaluator::range_selector(const VectorSelector& vs, const Expr& e, std::int64_t start, std::int64_t end,
                               std::int64_t step, std::vector<SeriesResult>& out) {
  auto& loaded = loaded_[&e];
  scratch_.clear();
  for (const auto& s : loaded) scratch_.push_back(s.labels);
  std::sort(scratch_.begin(), scratch_.end(), std::less<>());
  if (std::adjacent_find(scratch_.begin(), scratch_.end()) != scratch_.end()) return false;
  const std::size_t steps = static_cast<std::size_t>((end - start) / step) + 1;
  for (auto& s : loaded) {
    SeriesResult r{*s.labels, {}};
    for (std::int64_t t = start; t <= end; t += step) {
      const std::int64_t ref = t - vs.offset_ms;
      while (s.hi < s.samples.size() && s.samples[s.hi].t <= ref) ++s.hi;
      if (s.hi == 0) continue;
      const Sample& last = s.samples[s.hi - 1];
      if (last.t < ref - opts_.lookback_ms || is_stale_marker(last.v)) continue;
      if (r.points.empty()) r.points.reserve(steps);
      r.points.push_back({t, last.v});
    }
    count_samples(r.points.size());
    if (!r.points.empty()) out.push_back(std::move(r));
  }
  return true;
}

std::vector<Evaluator::Window> Evaluator::matrix(const MatrixSelector& ms, const Expr& e, std::int64_t t) {
  (void)e;
  const Expr& sel = *ms.selector;
  const std::int64_t ref = t - std::get<VectorSelector>(sel.node).offset_ms;
  std::vector<Window> out;
  for (auto& s : loaded_[&sel]) {
    while (s.lo < s.samples.size() && s.samples[s.lo].t < ref - ms.range_ms) ++s.lo;
    s.hi = std::max(s.hi, s.lo);
    while (s.hi < s.samples.size() && s.samples[s.hi].t <= ref) ++s.hi;
    if (s.hi == s.lo) continue;
    out.push_back({s.labels, std::span<const Sample>(s.samples.data() + s.lo, s.hi - s.lo)});
  }
  return out;
}

Value Evaluator::call(const Call& c, const Expr& e, std::int64_t t) {
  Value out;
  if (c.func == "time") return Value{ValueType::scalar, static_cast<double>(t) / 1000.0, {}, {}};
  if (c.func == "vector") {
    Value s = eval(*c.args[0], t);
    out.vec.push_back({intern({}), s.scalar});
    return out;
  }
  if (c.func == "scalar") {
    Value v = eval(*c.args[0], t);
    return Value{
        ValueType::scalar, v.vec.size() == 1 ? v.vec[0].v : std::numeric_limits<double>::quiet_NaN(), {}, {}};
  }
  if (!c.args.empty() && c.args[0]->type == ValueType::matrix) {
    const Expr& arg = unwrap(*c.args[0]);
    const auto& ms = std::get<MatrixSelector>(arg.node);
    const std::int64_t off = std::get<VectorSelector>(ms.selector->node).offset_ms;
    const bool keep_name = c.func == "last_over_time";
    for (const auto& w : matrix(ms, arg, t)) {
      double v = 0;
      if (!range_function(c.func, w.samples, t - off - ms.range_ms, t - off, v)) continue;
      out.vec.push_back({keep_name ? w.labels : drop_name(w.labels), v});
    }
    check_unique(out.vec, e);
    return out;
  }
  Value in = eval(*c.args[0], t);
  std::vector<double> args;
  for (std::size_t i = 1; i < c.args.size(); ++i) args.push_back(eval(*c.args[i], t).scalar);
  for (auto& s : in.vec) {
    s.labels = drop_name(s.labels);
    s.v = instant_function(c.func, s.v, args);
  }
  check_unique(in.vec, e);
  return in;
}

}  // namespace detail

namespace {

template <typename F>
[[nodiscard]] tl::expected<QueryResult, Error> guarded(F&& f) {
  try {
    return f();
  } catch (const EvalFailure& failure) {
    return tl::unexpected(failure.error);
  }
}

void sort_series(std::vector<SeriesResult>& series) {
  std::sort(series.begin(), series.end(),
            [](const SeriesResult& a, const SeriesResult& b) { return labels_less(a.labels, b.labels); });
}

}  // namespace

tl::expected<QueryResult, Error> instant_query(const Storage& storage, const Expr& expr, std::int64_t t,
                                               const EngineOptions& opts) {
  return guarded([&]() -> tl::expected<QueryResult, Error> {
    Evaluator ev(storage, opts, t, t);
    ev.load(expr);
    QueryResult r;
    r.type = expr.type;
    if (expr.type == ValueType::matrix) {
      const Expr& m = unwrap(expr);
      for (const auto& w : ev.matrix(std::get<MatrixSelector>(m.node), m, t)) {
        r.series.push_back({*w.labels, std::vector<Sample>(w.samples.begin(), w.samples.end())});
      }
      sort_series(r.series);
      return r;
    }
    Value v = ev.eval(expr, t);
    if (v.type == ValueType::scalar) {
      r.scalar = {t, v.scalar};
    } else if (v.type == ValueType::string) {
      r.string_value = v.str;
      r.string_t = t;
    } else {
      ev.check_unique(v.vec, expr);
      for (const auto& s : v.vec) r.series.push_back({*s.labels, {{t, s.v}}});
      sort_series(r.series);
    }
    return r;
  });
}

tl::expected<QueryResult, Error> range_query(const Storage& storage, const Expr& expr, std::int64_t start,
                                             std::int64_t end, std::int64_t step, const EngineOptions& opts) {
  if (expr.type != ValueType::scalar && expr.type != ValueType::vector) {
    return tl::unexpected(
        Error{ErrorCode::execution,
              fmt::format("invalid expression type \"{}\" for range query, must be Scalar or instant "
                          "Vector",
                          type_name(expr.type))});
  }
  return guarded([&]() -> tl::expected<QueryResult, Error> {
    Evaluator ev(storage, opts, start, end);
    ev.load(expr);
    QueryResult r;
    r.type = ValueType::matrix;
    // The commonest dashboard query, a bare selector: series by series.
    const Expr& bare = unwrap(expr);
    if (const auto* vs = std::get_if<VectorSelector>(&bare.node)) {
      if (ev.range_selector(*vs, bare, start, end, step, r.series)) {
        sort_series(r.series);
        return r;
      }
    }
    std::unordered_map<LabelsRef, std::size_t> index;
    const std::size_t steps = static_cast<std::size_t>((end - start) / step) + 1;
    for (std::int64_t t = start; t <= end; t += step) {
      Value v = ev.eval(expr, t);
      if (v.type == ValueType::scalar) v.vec.push_back({ev.intern({}), v.scalar});
      ev.check_unique(v.vec, expr);
      ev.count_samples(v.vec.size());
      for (const auto& s : v.vec) {
        auto [it, fresh] = index.try_emplace(s.labels, r.series.size());
        if (fresh) {
          r.series.push_back({*s.labels, {}});
          r.series.back().points.reserve(steps);
        }
        r.series[it->second].points.push_back({t, s.v});
      }
    }
    sort_series(r.series);
    return r;
  });
}

}  // namespace rm::promql
