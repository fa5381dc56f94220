#pragma once
// JSON text for people and tools: numbers as the shortest text that reads back to the same
// double (0.188, 6.916, 1e-07), never Boost.JSON's exponent form (1.88E-1). One writer for every
// JSON the project prints (CLI output lines, the gateway's responses).
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_escape.hpp"  // append_json_string: `s` as a quoted JSON string

namespace rm::core {

// Shortest round-trip form, always with a fraction or exponent (50.0, 0.188, 1e-07) so it
// reads back as a double; NaN and infinities (not JSON) become null.
void append_json_number(std::string& out, double v);
void append_json_number(std::string& out, std::int64_t v);
void append_json_number(std::string& out, std::uint64_t v);
// The whole value, compact (no spaces), object members in their stored order.
void append_json(std::string& out, const boost::json::value& v);
std::string to_json(const boost::json::value& v);

}  // namespace rm::core
