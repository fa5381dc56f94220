#include "server/pipeline_catalog.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace rm::server {

namespace fs = std::filesystem;
namespace json = boost::json;

tl::expected<PipelineCatalog, std::string> PipelineCatalog::load(const std::vector<std::string>& sources) {
  std::vector<std::pair<std::string, fs::path>> files;  // name, manifest
  std::string errors;
  for (const auto& src : sources) {
    std::error_code ec;
    if (auto eq = src.find('='); eq != std::string::npos && !fs::exists(src, ec)) {
      files.emplace_back(src.substr(0, eq), src.substr(eq + 1));
      continue;
    }
    if (fs::is_regular_file(src, ec)) {
      files.emplace_back(fs::path(src).stem().string(), src);
      continue;
    }
    if (!fs::is_directory(src, ec)) {
      errors += fmt::format("{}: no such directory or manifest file\n", src);
      continue;
    }
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(src, ec)) {
      auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json"))
        found.push_back(e.path());
    }
    if (found.empty())
      errors += fmt::format("{}: no manifest (*.yaml, *.yml, *.json) in this directory\n", src);
    std::sort(found.begin(), found.end());
    for (auto& f : found) files.emplace_back(f.stem().string(), f);
  }
  PipelineCatalog c;
  for (const auto& [name, f] : files) {
    auto m = runtime::Manifest::from_file(f);
    if (!m) {
      for (const auto& i : m.error().issues) errors += i.format(m.error().source) + "\n";
      if (m.error().issues.empty()) errors += fmt::format("{}: cannot load the manifest\n", f.string());
      continue;
    }
    if (c.pipelines_.count(name)) {
      errors +=
          fmt::format("{}: pipeline name '{}' is served by another manifest already\n", f.string(), name);
      continue;
    }
    auto params = SessionParams::from_manifest(*m);
    if (!params) {
      errors += fmt::format("{}: {}\n", f.string(), params.error());
      continue;
    }
    std::stringstream text;
    text << std::ifstream(f).rdbuf();
    c.pipelines_.emplace(
        name, ServedPipeline{name, std::make_shared<const runtime::PipelineExecutor>(std::move(*m)),
                             std::move(*params), text.str(), fs::absolute(f).parent_path()});
  }
  if (!errors.empty()) return tl::unexpected(errors.substr(0, errors.size() - 1));
  if (c.pipelines_.empty())
    return tl::unexpected(std::string("no pipelines to serve (give --pipelines DIR)"));
  return c;
}

const runtime::PipelineExecutor* PipelineCatalog::find(const std::string& name) const {
  const auto* p = find_pipeline(name);
  return p == nullptr ? nullptr : p->executor.get();
}

const ServedPipeline* PipelineCatalog::find_pipeline(const std::string& name) const {
  auto it = pipelines_.find(name);
  return it == pipelines_.end() ? nullptr : &it->second;
}

std::vector<std::string> PipelineCatalog::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : pipelines_) out.push_back(n);
  return out;
}

namespace {

// The rate a client should send audio at: metadata.sample_rate when given, else the target of
// an AudioResample fed straight from a pipeline input (any rate works then, this one is cheapest),
// else 16 kHz.
std::int64_t input_sample_rate(const runtime::Manifest& m) {
  if (const auto* r = m.metadata().extra.if_contains("sample_rate");
      r && r->is_int64() && r->get_int64() > 0) {
    return r->get_int64();
  }
  const auto inputs = m.inputs();
  for (const auto& c : m.connections()) {
    if (std::find(inputs.begin(), inputs.end(), c.from) == inputs.end()) continue;
    const auto* n = m.find_node(c.to);
    if (n == nullptr || n->node_type != "AudioResample") continue;
    if (const auto* t = n->resolved_params.if_contains("target_rate"); t && t->is_number()) {
      return static_cast<std::int64_t>(t->to_number<double>());
    }
  }
  return 16000;
}

}  // namespace

json::value PipelineCatalog::describe() const {
  json::array list;
  for (const auto& [name, served] : pipelines_) {
    const auto& m = served.executor->manifest();
    json::array inputs, outputs, nodes;
    for (const auto& i : m.inputs()) inputs.emplace_back(i);
    for (const auto& o : m.outputs()) outputs.emplace_back(o);
    for (const auto& n : m.nodes()) {
      nodes.emplace_back(
          json::object{{"id", n.id}, {"node_type", n.node_type}, {"kind", runtime::to_string(n.kind)}});
    }
    list.emplace_back(json::object{{"name", name},
                                   {"description", m.metadata().description},
                                   {"inputs", std::move(inputs)},
                                   {"outputs", std::move(outputs)},
                                   {"input_sample_rate", input_sample_rate(m)},
                                   {"nodes", std::move(nodes)},
                                   {"params", served.params.describe()}});
  }
  return json::object{{"pipelines", std::move(list)}};
}

}  // namespace rm::server
