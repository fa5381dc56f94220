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

namespace rm::server {

class PipelineCatalog {
 public:
  // Fails with every problem found (one line each, naming the file) when a manifest does not
  // validate, the directory is missing, or it holds no manifest.
  static tl::expected<PipelineCatalog, std::string> load(const std::vector<std::string>& sources);

  // nullptr if `name` is not served.
  const runtime::PipelineExecutor* find(const std::string& name) const;
  std::vector<std::string> names() const;
  // {"pipelines": [{name, description, inputs, outputs, input_sample_rate,
  //                 nodes: [{id, node_type, kind}]}]}
  boost::json::value describe() const;

 private:
  std::map<std::string, std::shared_ptr<const runtime::PipelineExecutor>> pipelines_;
};

}  // namespace rm::server
