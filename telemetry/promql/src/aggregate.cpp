// Aggregation operators (sum, avg, count, min, max, group, stddev, stdvar, topk, bottomk,
// quantile) with by/without, as Prometheus 2.42's evaluator.aggregation.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "evaluator.hpp"

namespace rm::promql::detail {

namespace {

struct Group {
  LabelsRef labels = nullptr;
  double value = 0;
  double mean = 0;
  std::size_t count = 0;
  std::vector<VSample> members;  // topk, bottomk, quantile
};

// NaN sorts last for topk and bottomk alike (Prometheus' heaps evict NaN first).
bool nan_last_greater(const VSample& a, const VSample& b) {
  if (std::isnan(a.v)) return false;
  if (std::isnan(b.v)) return true;
  return a.v > b.v;
}
bool nan_last_less(const VSample& a, const VSample& b) {
  if (std::isnan(a.v)) return false;
  if (std::isnan(b.v)) return true;
  return a.v < b.v;
}

double quantile(double q, std::vector<VSample>& values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::sort(values.begin(), values.end(), [](const VSample& a, const VSample& b) {
    return std::isnan(a.v) ? !std::isnan(b.v) : a.v < b.v;  // NaN first, as Go's sort
  });
  const double n = static_cast<double>(values.size());
  const double rank = q * (n - 1);
  const double lower = std::max(0.0, std::floor(rank));
  const double upper = std::min(n - 1, lower + 1);
  const double weight = rank - std::floor(rank);
  return values[static_cast<std::size_t>(lower)].v * (1 - weight) +
         values[static_cast<std::size_t>(upper)].v * weight;
}

}  // namespace

LabelsRef Evaluator::group_labels(const Expr& e, LabelsRef l, const Aggregate& a) {
  return derive(&e, l, [&](const std::string& name) {
    const bool listed = std::find(a.grouping.begin(), a.grouping.end(), name) != a.grouping.end();
    return a.without ? !listed && name != "__name__" : listed;
  });
}

Value Evaluator::aggregate(const Aggregate& a, const Expr& e, std::int64_t t) {
  const double param = a.param ? eval(*a.param, t).scalar : 0;
  Value in = eval(*a.expr, t);
  Value out;
  std::size_t k = 0;
  if (a.op == AggOp::topk || a.op == AggOp::bottomk) {
    if (std::isnan(param) || param >= 9.2e18 || param <= -9.2e18) {
      throw EvalFailure{{ErrorCode::execution, fmt::format("Scalar value {} overflows int64", param)}};
    }
    if (param < 1) return out;
    k = static_cast<std::size_t>(param);
  }
  std::vector<Group> groups;
  std::unordered_map<LabelsRef, std::size_t> index;
  for (const auto& s : in.vec) {
    LabelsRef key = group_labels(e, s.labels, a);
    auto [it, fresh] = index.try_emplace(key, groups.size());
    if (fresh) {
      Group g;
      g.labels = key;
      g.value = a.op == AggOp::stddev || a.op == AggOp::stdvar ? 0 : a.op == AggOp::group ? 1 : s.v;
      g.mean = a.op == AggOp::stddev || a.op == AggOp::stdvar ? 0 : s.v;
      g.count = 1;
      if (a.op == AggOp::stddev || a.op == AggOp::stdvar) {
        g.mean = s.v;  // first delta is 0
      }
      groups.push_back(std::move(g));
      if (a.op == AggOp::topk || a.op == AggOp::bottomk || a.op == AggOp::quantile) {
        groups.back().members.push_back(s);
      }
      continue;
    }
    Group& g = groups[it->second];
    switch (a.op) {
      case AggOp::sum:
        g.value += s.v;
        break;
      case AggOp::avg:
        ++g.count;
        if (std::isinf(g.mean)) {
          if (std::isinf(s.v) && (g.mean > 0) == (s.v > 0)) break;
          if (!std::isinf(s.v) && !std::isnan(s.v)) break;
        }
        g.mean += s.v / static_cast<double>(g.count) - g.mean / static_cast<double>(g.count);
        break;
      case AggOp::max:
        if (g.value < s.v || std::isnan(g.value)) g.value = s.v;
        break;
      case AggOp::min:
        if (g.value > s.v || std::isnan(g.value)) g.value = s.v;
        break;
      case AggOp::count:
        ++g.count;
        break;
      case AggOp::group:
        break;
      case AggOp::stddev:
      case AggOp::stdvar: {
        ++g.count;
        const double delta = s.v - g.mean;
        g.mean += delta / static_cast<double>(g.count);
        g.value += delta * (s.v - g.mean);
        break;
      }
      case AggOp::topk:
      case AggOp::bottomk:
      case AggOp::quantile:
        g.members.push_back(s);
        break;
      case AggOp::count_values:
        break;
    }
  }
  for (auto& g : groups) {
    switch (a.op) {
      case AggOp::avg:
        g.value = g.mean;
        break;
      case AggOp::count:
        g.value = static_cast<double>(g.count);
        break;
      case AggOp::stdvar:
        g.value = g.value / static_cast<double>(g.count);
        break;
      case AggOp::stddev:
        g.value = std::sqrt(g.value / static_cast<double>(g.count));
        break;
      case AggOp::quantile:
        g.value = quantile(param, g.members);
        break;
      case AggOp::topk:
      case AggOp::bottomk: {
        auto cmp = a.op == AggOp::topk ? nan_last_greater : nan_last_less;
        std::stable_sort(g.members.begin(), g.members.end(), cmp);
        if (g.members.size() > k) g.members.resize(k);
        for (const auto& m : g.members) out.vec.push_back(m);
        continue;
      }
      default:
        break;
    }
    out.vec.push_back({g.labels, g.value});
  }
  return out;
}

}  // namespace rm::promql::detail
