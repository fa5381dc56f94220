// Binary operators: scalar/scalar, vector/scalar, one-to-one vector matching (on/ignoring),
// and the set operators and/or/unless, as Prometheus 2.42's VectorBinop and friends.
#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

#include "evaluator.hpp"

namespace rm::promql::detail {

namespace {

bool drops_name(BinOp op) {
  return !is_comparison(op) && !is_set_op(op);
}

}  // namespace

LabelsRef Evaluator::signature(const Expr& e, LabelsRef l, const VectorMatching& m) {
  return derive(&e, l, [&](const std::string& name) {
    const bool listed = std::find(m.labels.begin(), m.labels.end(), name) != m.labels.end();
    return m.on ? listed : !listed && name != "__name__";
  });
}

Value Evaluator::binary(const Binary& b, const Expr& e, std::int64_t t) {
  Value l = eval(*b.lhs, t);
  Value r = eval(*b.rhs, t);
  bool keep = true;
  if (l.type == ValueType::scalar && r.type == ValueType::scalar) {
    double v = binary_value(b.op, l.scalar, r.scalar, keep);
    if (is_comparison(b.op)) v = keep ? 1 : 0;
    return Value{ValueType::scalar, v, {}, {}};
  }
  Value out;
  if (l.type == ValueType::vector && r.type == ValueType::vector) {
    out.vec = vector_binary(b, e, l.vec, r.vec);
    return out;
  }
  const bool swap = l.type == ValueType::scalar;
  const Vector& vec = swap ? r.vec : l.vec;
  const double scalar = swap ? l.scalar : r.scalar;
  out.vec.reserve(vec.size());
  for (const auto& s : vec) {
    double v = swap ? binary_value(b.op, scalar, s.v, keep) : binary_value(b.op, s.v, scalar, keep);
    if (is_comparison(b.op) && swap) v = s.v;  // comparisons keep the vector's value
    if (b.return_bool) {
      v = keep ? 1 : 0;
      keep = true;
    }
    if (!keep) continue;
    out.vec.push_back({drops_name(b.op) || b.return_bool ? drop_name(s.labels) : s.labels, v});
  }
  check_unique(out.vec, e);
  return out;
}

Vector Evaluator::vector_binary(const Binary& b, const Expr& e, const Vector& lhs, const Vector& rhs) {
  const VectorMatching& m = b.matching;
  Vector out;
  if (is_set_op(b.op)) {
    std::unordered_set<LabelsRef> right;
    for (const auto& s : rhs) right.insert(signature(e, s.labels, m));
    if (b.op == BinOp::lor) {
      std::unordered_set<LabelsRef> left;
      for (const auto& s : lhs) {
        left.insert(signature(e, s.labels, m));
        out.push_back(s);
      }
      for (const auto& s : rhs) {
        if (!left.count(signature(e, s.labels, m))) out.push_back(s);
      }
      return out;
    }
    const bool want = b.op == BinOp::land;
    for (const auto& s : lhs) {
      if (right.count(signature(e, s.labels, m)) == (want ? 1u : 0u)) out.push_back(s);
    }
    return out;
  }
  std::unordered_map<LabelsRef, const VSample*> right;
  for (const auto& s : rhs) {
    LabelsRef sig = signature(e, s.labels, m);
    auto [it, fresh] = right.try_emplace(sig, &s);
    if (!fresh) {
      throw EvalFailure{
          {ErrorCode::execution,
           fmt::format("found duplicate series for the match group {} on the right "
                       "hand-side of the operation: [{}, {}];many-to-many matching "
                       "not allowed: matching labels must be unique on one side",
                       format_labels(*sig), format_labels(*s.labels), format_labels(*it->second->labels))}};
    }
  }
  std::unordered_set<LabelsRef> matched;
  for (const auto& ls : lhs) {
    LabelsRef sig = signature(e, ls.labels, m);
    auto it = right.find(sig);
    if (it == right.end()) continue;
    bool keep = true;
    double v = binary_value(b.op, ls.v, it->second->v, keep);
    if (b.return_bool) {
      v = keep ? 1 : 0;
    } else if (!keep) {
      continue;
    }
    if (!matched.insert(sig).second) {
      throw EvalFailure{{ErrorCode::execution,
                         "multiple matches for labels: many-to-one matching must be explicit "
                         "(group_left/group_right)"}};
    }
    // Prometheus' resultMetric: the left side's labels, name dropped for arithmetic and bool,
    // reduced to the on(...) labels or without the ignoring(...) ones.
    const bool drop = drops_name(b.op) || b.return_bool;
    out.push_back({derive(&b, ls.labels,
                          [&](const std::string& name) {
                            if (drop && name == "__name__") return false;
                            const bool listed =
                                std::find(m.labels.begin(), m.labels.end(), name) != m.labels.end();
                            return m.on ? listed : !listed;
                          }),
                   v});
  }
  return out;
}

}  // namespace rm::promql::detail
