#include "promql/view_storage.hpp"

#include <algorithm>
#include <limits>

#include "telemetry/gateway/prometheus_names.hpp"

namespace rm::promql {

namespace {

constexpr std::int64_t kNsPerMs = 1'000'000;

std::int64_t floor_ms(std::int64_t ns) {
  std::int64_t ms = ns / kNsPerMs;
  if (ns % kNsPerMs < 0) --ms;
  return ms;
}

// [mint, maxt] in ms as inclusive nanoseconds, saturating.
std::int64_t to_ns(std::int64_t ms, bool upper) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / kNsPerMs - 1;
  if (ms >= kMax) return std::numeric_limits<std::int64_t>::max();
  if (ms <= -kMax) return std::numeric_limits<std::int64_t>::min();
  return ms * kNsPerMs + (upper ? kNsPerMs - 1 : 0);
}

}  // namespace

ViewStorage::ViewStorage(std::shared_ptr<const telemetry::TelemetryView> view) : view_(std::move(view)) {}

std::vector<SeriesData> ViewStorage::find(const std::vector<Matcher>& matchers, std::int64_t mint,
                                          std::int64_t maxt, bool with_samples) const {
  std::vector<Matcher> name_matchers, label_matchers;
  for (const auto& m : matchers) (m.name == "__name__" ? name_matchers : label_matchers).push_back(m);
  const std::int64_t lo = to_ns(mint, false), hi = to_ns(maxt, true);
  std::vector<SeriesData> out;
  for (const auto& gpu : view_->gpus()) {
    if (gpu.samples == 0 || gpu.last_seen_ns < lo || gpu.first_seen_ns > hi) continue;
    Labels base;
    for (auto& [k, v] : telemetry::prometheus_labels(gpu.info, true)) base.emplace_back(k, v);
    std::sort(base.begin(), base.end());
    if (!matches_all(label_matchers, base)) continue;
    std::vector<std::string> stored;
    std::vector<std::string> names;
    const auto latest = view_->latest(gpu.info.id);
    std::vector<std::string> sources;
    for (const auto& p : latest) sources.push_back(p.metric);
    const auto colliding = telemetry::colliding_prometheus_names(sources);
    for (const auto& p : latest) {
      std::string name = telemetry::prometheus_metric_name(p.metric);
      const bool ok = std::all_of(name_matchers.begin(), name_matchers.end(),
                                  [&](const Matcher& m) { return m.matches(name); });
      if (!ok) continue;
      stored.push_back(p.metric);
      names.push_back(std::move(name));
    }
    if (stored.empty()) continue;
    // Every metric has a sample in a window that covers the GPU's whole history.
    const bool covers = lo <= gpu.first_seen_ns && hi >= gpu.last_seen_ns;
    std::vector<std::vector<telemetry::SeriesSample>> samples;
    if (with_samples || !covers) samples = view_->samples(gpu.info.id, stored, lo, hi);
    for (std::size_t m = 0; m < stored.size(); ++m) {
      if (!samples.empty() && samples[m].empty()) continue;
      SeriesData s;
      s.labels = base;
      s.labels.insert(std::lower_bound(s.labels.begin(), s.labels.end(),
                                       std::pair<std::string, std::string>("__name__", "")),
                      {"__name__", names[m]});
      if (colliding.count(names[m]) > 0) {
        // Two source metrics of this GPU share the name: the source name keeps them apart.
        const std::pair<std::string, std::string> source(telemetry::kSourceMetricLabel, stored[m]);
        auto at = std::lower_bound(s.labels.begin(), s.labels.end(), source,
                                   [](const auto& a, const auto& b) { return a.first < b.first; });
        if (at != s.labels.end() && at->first == source.first) {
          at->second = source.second;
        } else {
          s.labels.insert(at, source);
        }
      }
      if (with_samples) {
        s.samples.reserve(samples[m].size());
        for (const auto& x : samples[m]) {
          const std::int64_t t = floor_ms(x.timestamp_ns);
          if (!s.samples.empty() && s.samples.back().t == t) {
            s.samples.back().v = x.value;
          } else {
            s.samples.push_back({t, x.value});
          }
        }
      }
      out.push_back(std::move(s));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const SeriesData& a, const SeriesData& b) { return labels_less(a.labels, b.labels); });
  return out;
}

std::vector<SeriesData> ViewStorage::select(const std::vector<Matcher>& matchers, std::int64_t mint,
                                            std::int64_t maxt) const {
  return find(matchers, mint, maxt, true);
}

std::vector<Labels> ViewStorage::series(const std::vector<Matcher>& matchers, std::int64_t mint,
                                        std::int64_t maxt) const {
  std::vector<Labels> out;
  for (auto& s : find(matchers, mint, maxt, false)) out.push_back(std::move(s.labels));
  return out;
}

}  // namespace rm::promql
