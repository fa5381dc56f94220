#pragma once
// A served manifest with a session's params written into its nodes, validated again from the
// top (so a native node's contract checks the new values like any manifest's).
#include <filesystem>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "runtime/manifest.hpp"
#include "server/session_params.hpp"

namespace rm::server::detail {

// `text`: the manifest as served (YAML or JSON); `base_dir` resolves relative paths in it.
// The error is one sentence per problem, naming the node and the param.
[[nodiscard]] tl::expected<runtime::Manifest, std::string> manifest_with_params(
    const std::string& text, const std::filesystem::path& base_dir, const std::vector<ParamOverride>& params);

}  // namespace rm::server::detail
