#include "core/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace rm::core {

void append_json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
  // A double stays a double for the reader: 50.0, not 50 (which JSON parsers in Python, or
  // Boost.JSON, read back as an integer).
  if (std::find_if(buf, end, [](char c) { return c == '.' || c == 'e'; }) == end) out += ".0";
}

namespace {
template <typename Int>
void append_integer(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}
}  // namespace

void append_json_number(std::string& out, std::int64_t v) {
  append_integer(out, v);
}
void append_json_number(std::string& out, std::uint64_t v) {
  append_integer(out, v);
}

void append_json(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      out += "null";
      break;
    case boost::json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::int64:
      append_json_number(out, v.get_int64());
      break;
    case boost::json::kind::uint64:
      append_json_number(out, v.get_uint64());
      break;
    case boost::json::kind::double_:
      append_json_number(out, v.get_double());
      break;
    case boost::json::kind::string:
      append_json_string(out, v.get_string());
      break;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json(out, e);
      }
      out += ']';
      break;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.get_object()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, k);
        out += ':';
        append_json(out, e);
      }
      out += '}';
      break;
    }
  }
}

std::string to_json(const boost::json::value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

}  // namespace rm::core
