#pragma once
// Per-session params (docs/streaming.md, "Per-session params"): which node params a client may
// set when it opens a session, declared by the manifest under `metadata.session_params`:
//
//   metadata:
//     session_params:
//       gain.gain: {type: number, minimum: 0, maximum: 4, description: "linear gain"}
//       asr.language: {type: string, values: [en, de, fr]}
//
// A key is `node_id.param`; `type` is number, integer, string or boolean; `minimum`/`maximum`
// bound numbers; `values` lists every allowed value. The manifest's own value of the param is
// the default. A client's values are checked here (unknown param, wrong type, out of bounds,
// not allowed); then the manifest is validated again with them in (manifest_overrides.hpp), so
// a native node's contract still has the last word.
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <tl/expected.hpp>

#include "runtime/manifest.hpp"

namespace rm::server {

struct ParamSpec {
  enum class Type { number, integer, string, boolean };
  std::string name;  // "node.param"
  std::string node;
  std::string key;
  Type type = Type::number;
  std::optional<double> minimum, maximum;
  std::vector<boost::json::value> values;  // empty: any value of the type (within bounds)
  std::string description;
  boost::json::value default_value;  // the manifest's value, null if it sets none
};

// One value a client set, checked.
struct ParamOverride {
  std::string node;
  std::string key;
  boost::json::value value;
};

// A refused value: `param` is the name the client gave, `node` its node (if it names one).
struct ParamError {
  std::string param;
  std::string node;
  std::string message;
};

class SessionParams {
 public:
  // Reads metadata.session_params; fails with every problem found, one line each.
  [[nodiscard]] static tl::expected<SessionParams, std::string> from_manifest(const runtime::Manifest& m);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  // [{name, node, param, type, default, minimum?, maximum?, values?, description?}]
  [[nodiscard]] boost::json::array describe() const;
  // Checks a client's {"node.param": value, ...}; the first problem (in key order) fails it.
  [[nodiscard]] tl::expected<std::vector<ParamOverride>, ParamError> check(
      const std::string& pipeline, const boost::json::object& given) const;

 private:
  std::vector<ParamSpec> specs_;
};

std::string_view to_string(ParamSpec::Type t);

}  // namespace rm::server
