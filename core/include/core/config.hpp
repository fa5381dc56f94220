#pragma once
// Configuration from the environment, typed, with errors that name the variable and the
// value. Command-line flags are CLI11 options; `env_default` lets a flag take its default
// from an environment variable so "flag > env > built-in default" holds everywhere.
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace rm::core {

struct ConfigError {
  std::string message;  // e.g. "WORKERS='abc' is not an integer"
};

template <typename T>
using ConfigResult = tl::expected<T, ConfigError>;

// The raw value, or nullopt when unset (an empty value counts as unset).
std::optional<std::string> env(std::string_view name);

std::string env_string(std::string_view name, std::string_view fallback);
ConfigResult<long long> env_int(std::string_view name, long long fallback,
                                long long min = std::numeric_limits<long long>::min(),
                                long long max = std::numeric_limits<long long>::max());
ConfigResult<double> env_double(std::string_view name, double fallback);
// true/false/1/0/yes/no/on/off, case-insensitive.
ConfigResult<bool> env_bool(std::string_view name, bool fallback);

// Parsers shared by env and flags.
ConfigResult<long long> parse_int(std::string_view what, std::string_view text);
ConfigResult<double> parse_double(std::string_view what, std::string_view text);
ConfigResult<bool> parse_bool(std::string_view what, std::string_view text);

}  // namespace rm::core
