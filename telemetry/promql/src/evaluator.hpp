#pragma once
// The evaluator behind instant_query/range_query (internal). One Evaluator runs one query:
// it loads each selector's series once, then evaluates the tree at each step in ascending
// time order. Label sets are interned (one object per distinct set), so steps compare and
// group them by pointer and derived sets (metric name dropped, grouping labels) are memoised.
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "promql/engine.hpp"

namespace rm::promql::detail {

using LabelsRef = const Labels*;

struct VSample {
  LabelsRef labels;
  double v;
};
using Vector = std::vector<VSample>;

struct Value {
  ValueType type = ValueType::vector;
  double scalar = 0;
  Vector vec;
  std::string str;
};

// Thrown inside the evaluator, turned into an Error at the boundary.
struct EvalFailure {
  Error error;
};

class Evaluator {
 public:
  Evaluator(const Storage& storage, const EngineOptions& opts, std::int64_t start, std::int64_t end);

  void load(const Expr& root);
  Value eval(const Expr& e, std::int64_t t);

  LabelsRef intern(Labels labels);
  LabelsRef drop_name(LabelsRef l);
  void check_unique(const Vector& v, const Expr& e) const;
  void count_samples(std::size_t n);
  std::int64_t lookback() const { return opts_.lookback_ms; }

  // Raw samples of a range selector in its window at t (for instant queries of a matrix).
  struct Window {
    LabelsRef labels;
    std::span<const Sample> samples;
  };
  std::vector<Window> matrix(const MatrixSelector& ms, const Expr& e, std::int64_t t);

  // A range query of a plain selector, series by series (one pass over each series' samples
  // for all steps, no per-step vectors): what eval() at every step would give. False (and
  // nothing written) when two loaded series share a label set, which the step-wise path reports.
  bool range_selector(const VectorSelector& vs, const Expr& e, std::int64_t start, std::int64_t end,
                      std::int64_t step, std::vector<SeriesResult>& out);

 private:
  struct Loaded {
    LabelsRef labels;
    std::vector<Sample> samples;
    std::size_t lo = 0, hi = 0;  // cursors; steps only move forward
  };

  Value selector(const VectorSelector& vs, const Expr& e, std::int64_t t);
  Value call(const Call& c, const Expr& e, std::int64_t t);
  Value aggregate(const Aggregate& a, const Expr& e, std::int64_t t);
  Value binary(const Binary& b, const Expr& e, std::int64_t t);
  Vector vector_binary(const Binary& b, const Expr& e, const Vector& lhs, const Vector& rhs);
  LabelsRef signature(const Expr& e, LabelsRef l, const VectorMatching& m);
  LabelsRef group_labels(const Expr& e, LabelsRef l, const Aggregate& a);
  // The labels of `l` whose name `keep` accepts, interned and memoised per (node, l).
  template <typename Keep>
  LabelsRef derive(const void* node, LabelsRef l, Keep&& keep) {
    auto& memo = derived_[node];
    auto it = memo.find(l);
    if (it != memo.end()) return it->second;
    Labels out;
    for (const auto& p : *l) {
      if (keep(p.first)) out.push_back(p);
    }
    LabelsRef r = intern(std::move(out));
    memo.emplace(l, r);
    return r;
  }

  const Storage& storage_;
  EngineOptions opts_;
  std::int64_t start_, end_;
  std::size_t samples_ = 0;
  mutable std::vector<LabelsRef> scratch_;  // check_unique's buffer, reused across steps
  std::unordered_map<std::string, std::unique_ptr<Labels>> interned_;
  std::unordered_map<LabelsRef, LabelsRef> dropped_;
  std::unordered_map<const Expr*, std::vector<Loaded>> loaded_;
  // Per node (or node part): input label set -> derived label set (grouping key, match
  // signature, result labels).
  std::unordered_map<const void*, std::unordered_map<LabelsRef, LabelsRef>> derived_;
};

// Applies a function to one series' window (range functions) or value (instant functions).
bool range_function(std::string_view name, std::span<const Sample> s, std::int64_t range_start,
                    std::int64_t range_end, double& out);
double instant_function(std::string_view name, double v, const std::vector<double>& args);
double binary_value(BinOp op, double l, double r, bool& keep);

}  // namespace rm::promql::detail
