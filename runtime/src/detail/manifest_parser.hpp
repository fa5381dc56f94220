#pragma once
// ManifestParser walks the YAML tree once, collecting every problem instead of stopping at the
// first. Its parts live next to what they read: the document, metadata and connections in
// manifest.cpp, nodes in manifest_nodes.cpp, the docker block in docker_config.cpp, the graph
// checks in graph.cpp. Internal to the runtime library.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>
#include <tl/expected.hpp>

#include "detail/yaml_reader.hpp"
#include "runtime/manifest.hpp"

namespace rm::runtime {

class ManifestParser : private detail::YamlReader {
 public:
  ManifestParser(std::string source, std::filesystem::path base_dir);

  tl::expected<Manifest, ManifestError> parse_text(std::string_view text, ManifestFormat format);

 private:
  Manifest m_;
  std::filesystem::path base_dir_;

  void parse_document(const YAML::Node& root);
  void parse_metadata(const YAML::Node& md);
  void parse_connections(const YAML::Node& cs);

  // manifest_nodes.cpp
  void parse_nodes(const YAML::Node& root);
  std::optional<NodeSpec> parse_node(const YAML::Node& n, const std::string& path);

  // docker_config.cpp
  DockerConfig parse_docker(const YAML::Node& d, const std::string& path, const std::string& nid);
  void parse_limits(const YAML::Node& d, const std::string& path, const std::string& nid,
                    ResourceLimits& out);
  void parse_volumes(const YAML::Node& v, const std::string& path, const std::string& nid,
                     std::vector<VolumeMount>& out);
  void parse_gpus(const YAML::Node& g, const std::string& path, const std::string& nid, GpuRequest& out);

  // graph.cpp
  void check_graph();
};

namespace detail {
// The first cycle found by a depth-first walk, every node on it and the first one again at the
// end; nullopt when the graph is acyclic. Edges from named inputs are ignored.
std::optional<std::vector<std::string>> find_cycle(const Manifest& m);
}  // namespace detail

}  // namespace rm::runtime
