#pragma once
// The pipelines a server offers, validated at load; immutable after it, shared by all sessions.
// Each source is a directory (every *.yaml, *.yml, *.json in it, named by file stem), a
// manifest file (named by its stem) or NAME=FILE (one manifest under that name).
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/value.hpp>
#include <tl/expected.hpp>

#include "runtime/executor.hpp"
#include "server/session_params.hpp"

namespace rm::server {

// One served pipeline: its executor (shared by the sessions that set no params), the params a
// session may set, and the manifest's text to build a session's own executor from when it does.
struct ServedPipeline {
  std::string name;
  std::shared_ptr<const runtime::PipelineExecutor> executor;
  SessionParams params;
  std::string text;
  std::filesystem::path base_dir;
};

class PipelineCatalog {
 public:
  // Fails with every problem found (one line each, naming the file) when a manifest does not
  // validate, the directory is missing, or it holds no manifest.
  static tl::expected<PipelineCatalog, std::string> load(const std::vector<std::string>& sources);

  // nullptr if `name` is not served.
  const runtime::PipelineExecutor* find(const std::string& name) const;
  const ServedPipeline* find_pipeline(const std::string& name) const;
  std::vector<std::string> names() const;
  // {"pipelines": [{name, description, inputs, outputs, input_sample_rate,
  //                 nodes: [{id, node_type, kind}], params: [SessionParams::describe()]}]}
  boost::json::value describe() const;

 private:
  std::map<std::string, ServedPipeline> pipelines_;
};

}  // namespace rm::server
