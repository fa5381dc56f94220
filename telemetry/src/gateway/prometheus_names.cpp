#include "telemetry/gateway/prometheus_names.hpp"

#include <algorithm>
#include <map>

namespace rm::telemetry {

std::string prometheus_metric_name(std::string_view name) {
  std::string out(name);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) out[i] = '_';
  }
  if (out.empty()) out.assign(1, '_');
  return out;
}

std::set<std::string> colliding_prometheus_names(const std::vector<std::string>& sources) {
  std::map<std::string, std::string_view> first_source;
  std::set<std::string> colliding;
  for (const auto& s : sources) {
    auto name = prometheus_metric_name(s);
    auto [it, inserted] = first_source.emplace(name, s);
    if (!inserted && it->second != s) colliding.insert(std::move(name));
  }
  return colliding;
}

std::vector<std::pair<std::string, std::string>> prometheus_labels(const GpuInfo& info, bool source_labels) {
  std::vector<std::pair<std::string, std::string>> labels;
  auto set = [&](const std::string& k, const std::string& v) {
    if (v.empty()) return;
    auto it = std::find_if(labels.begin(), labels.end(), [&](const auto& p) { return p.first == k; });
    if (it != labels.end()) {
      it->second = v;
    } else {
      labels.emplace_back(k, v);
    }
  };
  if (source_labels) {
    for (const auto& [k, v] : info.labels) {
      if (k != "__name__") set(k, v);
    }
  }
  set("gpu", info.gpu_index.empty() ? info.id : info.gpu_index);
  set("UUID", info.uuid);
  set("device", info.device);
  set("modelName", info.model);
  set("Hostname", info.hostname);
  if (info.uuid.empty() && !info.gpu_index.empty()) set("gpu_id", info.id);
  return labels;
}

}  // namespace rm::telemetry
