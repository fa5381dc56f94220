#pragma once
// Reading a manifest's YAML tree: scalars typed by their text (a quoted scalar is always a
// string), conversions to and from JSON, and YamlReader, the typed getters that each report
// their own problem into the reader's ManifestError (field path, node id, source position) and return
// nullopt, so parsing goes on and every problem is collected. Internal to the runtime library.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>
#include <boost/json/value.hpp>

#include "runtime/manifest_error.hpp"

namespace rm::runtime::detail {

bool is_quoted(const YAML::Node& n);
std::optional<bool> scalar_bool(const YAML::Node& n);
std::optional<std::int64_t> scalar_int(const YAML::Node& n);
std::optional<double> scalar_number(const YAML::Node& n);
bool scalar_is_null(const YAML::Node& n);
// "string \"lots\"", "list", "mapping", "number 3", ... for error messages.
std::string describe(const YAML::Node& n);
boost::json::value to_json(const YAML::Node& n);
// For JSON text yaml-cpp cannot take (rare), the same tree built from Boost.JSON, without marks.
YAML::Node from_json(const boost::json::value& v);
// 1-based line and column of a byte offset.
std::pair<int, int> position_of(std::string_view text, std::size_t offset);

class YamlReader {
 public:
  void add(ManifestErrorCode code, std::string path, std::string node_id, std::string message, int line = 0,
           int column = 0);
  // Like add, at the source position of `at` when it has one.
  void add_at(const YAML::Node& at, ManifestErrorCode code, std::string path, std::string node_id,
              std::string message);

  std::optional<std::string> get_string(const YAML::Node& parent, const std::string& key,
                                        const std::string& path, const std::string& node_id, bool required,
                                        const YAML::Node& where);
  std::optional<double> get_number(const YAML::Node& v, const std::string& path, const std::string& node_id);
  // A whole, non-negative number of megabytes.
  std::optional<std::uint64_t> get_uint(const YAML::Node& v, const std::string& path,
                                        const std::string& node_id);
  std::optional<bool> get_bool(const YAML::Node& parent, const std::string& key, const std::string& path,
                               const std::string& node_id);
  std::vector<std::string> get_package_list(const YAML::Node& v, const std::string& path,
                                            const std::string& node_id);
  // Reads one of two spellings of a key (`used` says which); both present is an error.
  YAML::Node either(const YAML::Node& d, const std::string& a, const std::string& b, const std::string& path,
                    const std::string& node_id, std::string* used);

 protected:
  ManifestError err_;  // every problem found so far
};

}  // namespace rm::runtime::detail
