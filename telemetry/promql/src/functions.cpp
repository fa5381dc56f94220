// Function and operator arithmetic, ported from the semantics of Prometheus 2.42
// (promql/functions.go, engine.go): extrapolated rates, *_over_time with Kahan summation,
// NaN handling of min/max, counter resets.
#include <cmath>
#include <limits>

#include "evaluator.hpp"

namespace rm::promql::detail {

namespace {

void kahan_inc(double inc, double& sum, double& c) {
  const double t = sum + inc;
  if (std::abs(sum) >= std::abs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  sum = t;
}

// rate(), increase(), delta(): the change over the window, counter resets compensated for
// counters, extrapolated towards the window's edges unless the first/last sample is further
// than 1.1 average intervals away from them (then by half an interval only).
bool extrapolated_rate(std::span<const Sample> s, std::int64_t range_start, std::int64_t range_end,
                       bool counter, bool per_second, double& out) {
  if (s.size() < 2) return false;
  double result = s.back().v - s.front().v;
  if (counter) {
    double prev = s.front().v;
    for (std::size_t i = 1; i < s.size(); ++i) {
      if (s[i].v < prev) result += prev;
      prev = s[i].v;
    }
  }
  double to_start = static_cast<double>(s.front().t - range_start) / 1000.0;
  const double to_end = static_cast<double>(range_end - s.back().t) / 1000.0;
  const double sampled = static_cast<double>(s.back().t - s.front().t) / 1000.0;
  const double avg_interval = sampled / static_cast<double>(s.size() - 1);
  if (counter && result > 0 && s.front().v >= 0) {
    const double to_zero = sampled * (s.front().v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  const double threshold = avg_interval * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : avg_interval / 2;
  interval += to_end < threshold ? to_end : avg_interval / 2;
  double factor = interval / sampled;
  if (per_second) factor /= static_cast<double>(range_end - range_start) / 1000.0;
  out = result * factor;
  return true;
}

// irate(), idelta(): from the last two samples.
bool instant_value(std::span<const Sample> s, bool rate, double& out) {
  if (s.size() < 2) return false;
  const Sample& last = s[s.size() - 1];
  const Sample& prev = s[s.size() - 2];
  double result = rate && last.v < prev.v ? last.v : last.v - prev.v;
  const std::int64_t interval = last.t - prev.t;
  if (interval == 0) return false;
  if (rate) result /= static_cast<double>(interval) / 1000.0;
  out = result;
  return true;
}

double avg(std::span<const Sample> s) {
  double mean = 0, c = 0, count = 0;
  for (const auto& x : s) {
    ++count;
    if (std::isinf(mean)) {
      if (std::isinf(x.v) && (mean > 0) == (x.v > 0)) continue;
      if (!std::isinf(x.v) && !std::isnan(x.v)) continue;
    }
    kahan_inc(x.v / count - mean / count, mean, c);
  }
  return std::isinf(mean) ? mean : mean + c;
}

double variance(std::span<const Sample> s) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const auto& x : s) {
    ++count;
    const double delta = x.v - (mean + c_mean);
    kahan_inc(delta / count, mean, c_mean);
    kahan_inc(delta * (x.v - (mean + c_mean)), aux, c_aux);
  }
  return (aux + c_aux) / count;
}

}  // namespace

bool range_function(std::string_view name, std::span<const Sample> s, std::int64_t range_start,
                    std::int64_t range_end, double& out) {
  if (name == "rate") return extrapolated_rate(s, range_start, range_end, true, true, out);
  if (name == "increase") return extrapolated_rate(s, range_start, range_end, true, false, out);
  if (name == "delta") return extrapolated_rate(s, range_start, range_end, false, false, out);
  if (name == "irate") return instant_value(s, true, out);
  if (name == "idelta") return instant_value(s, false, out);
  if (s.empty()) return false;
  if (name == "count_over_time") {
    out = static_cast<double>(s.size());
  } else if (name == "last_over_time") {
    out = s.back().v;
  } else if (name == "avg_over_time") {
    out = avg(s);
  } else if (name == "sum_over_time") {
    double sum = 0, c = 0;
    for (const auto& x : s) kahan_inc(x.v, sum, c);
    out = std::isinf(sum) ? sum : sum + c;
  } else if (name == "max_over_time") {
    out = s.front().v;
    for (const auto& x : s) {
      if (x.v > out || std::isnan(out)) out = x.v;
    }
  } else if (name == "min_over_time") {
    out = s.front().v;
    for (const auto& x : s) {
      if (x.v < out || std::isnan(out)) out = x.v;
    }
  } else if (name == "stdvar_over_time") {
    out = variance(s);
  } else if (name == "stddev_over_time") {
    out = std::sqrt(variance(s));
  } else {
    return false;
  }
  return true;
}

double instant_function(std::string_view name, double v, const std::vector<double>& args) {
  if (name == "abs") return std::abs(v);
  if (name == "ceil") return std::ceil(v);
  if (name == "floor") return std::floor(v);
  if (name == "sqrt") return std::sqrt(v);
  if (name == "exp") return std::exp(v);
  if (name == "ln") return std::log(v);
  if (name == "log2") return std::log2(v);
  if (name == "log10") return std::log10(v);
  if (name == "round") {
    const double inverse = 1.0 / (args.empty() ? 1.0 : args[0]);
    return std::floor(v * inverse + 0.5) / inverse;
  }
  if (name == "clamp_min") return std::max(args[0], v);
  if (name == "clamp_max") return std::min(args[0], v);
  if (name == "clamp") {
    if (args[1] < args[0]) return std::numeric_limits<double>::quiet_NaN();
    return std::max(args[0], std::min(args[1], v));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

double binary_value(BinOp op, double l, double r, bool& keep) {
  keep = true;
  switch (op) {
    case BinOp::add:
      return l + r;
    case BinOp::sub:
      return l - r;
    case BinOp::mul:
      return l * r;
    case BinOp::div:
      return l / r;
    case BinOp::pow:
      return std::pow(l, r);
    case BinOp::mod:
      return std::fmod(l, r);
    case BinOp::atan2:
      return std::atan2(l, r);
    case BinOp::eq:
      keep = l == r;
      return l;
    case BinOp::ne:
      keep = l != r;
      return l;
    case BinOp::gt:
      keep = l > r;
      return l;
    case BinOp::lt:
      keep = l < r;
      return l;
    case BinOp::ge:
      keep = l >= r;
      return l;
    case BinOp::le:
      keep = l <= r;
      return l;
    default:
      return l;
  }
}

}  // namespace rm::promql::detail
