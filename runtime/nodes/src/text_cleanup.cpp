// TextCleanup: normalises text with a list of rules applied in the given order.
//
// Works on text values, on JSON strings, and on JSON objects with a string "transcript" or
// "text" field (that field is cleaned, every other field is kept). Rules act on ASCII only;
// bytes of multi-byte UTF-8 characters pass through untouched, so the output stays valid UTF-8.
// Any other input is forwarded unchanged.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "runtime/node_registry.hpp"

namespace rm::nodes {
namespace {

using namespace rm::runtime;

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string apply_rule(const std::string& rule, std::string s) {
  if (rule == "lowercase") {
    for (auto& c : s)
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  } else if (rule == "uppercase") {
    for (auto& c : s)
      if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  } else if (rule == "trim") {
    auto b = std::find_if_not(s.begin(), s.end(), is_ascii_space);
    auto e = std::find_if_not(s.rbegin(), s.rend(), is_ascii_space).base();
    s = b < e ? std::string(b, e) : std::string();
  } else if (rule == "collapse_whitespace") {
    std::string out;
    out.reserve(s.size());
    bool in_space = false;
    for (char c : s) {
      if (is_ascii_space(c)) {
        if (!in_space) out.push_back(' ');
        in_space = true;
      } else {
        out.push_back(c);
        in_space = false;
      }
    }
    s = std::move(out);
  } else if (rule == "strip_punctuation") {
    // Apostrophes inside words ("don't") are part of the word and stay.
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      const bool inner_apostrophe = c == '\'' && i > 0 && i + 1 < s.size() &&
                                    std::isalnum(static_cast<unsigned char>(s[i - 1])) &&
                                    std::isalnum(static_cast<unsigned char>(s[i + 1]));
      if (c < 0x80 && std::ispunct(c) && !inner_apostrophe) continue;
      out.push_back(char(c));
    }
    s = std::move(out);
  }
  return s;
}

class TextCleanup final : public Node {
 public:
  explicit TextCleanup(const NodeInit& init) : rules_(param_strings(init.params, "rules")) {}

  Status process(const DataPtr& in, Emitter& out) override {
    if (const auto* t = in->text())
      return out.emit(RuntimeData::make_text(clean(t->text), in->timestamp_us, in->metadata));
    if (const auto* j = in->json()) {
      if (j->value.is_string())
        return out.emit(RuntimeData::make_json(boost::json::string(clean(std::string(j->value.get_string()))),
                                               in->timestamp_us, in->metadata));
      if (j->value.is_object()) {
        const auto& obj = j->value.get_object();
        for (const char* field : {"transcript", "text"}) {
          auto it = obj.find(field);
          if (it == obj.end() || !it->value().is_string()) continue;
          boost::json::object copy = obj;
          copy[field] = clean(std::string(it->value().get_string()));
          return out.emit(RuntimeData::make_json(std::move(copy), in->timestamp_us, in->metadata));
        }
      }
    }
    return out.emit(in);
  }

 private:
  std::string clean(std::string s) const {
    for (const auto& r : rules_) s = apply_rule(r, std::move(s));
    return s;
  }
  std::vector<std::string> rules_;
};

NodeContract text_cleanup_contract() {
  boost::json::array defaults{"trim", "collapse_whitespace"};
  return NodeContract{
      .node_type = "TextCleanup",
      .description =
          "Cleans up text with the listed rules, applied in order: lowercase, uppercase, trim (strip leading "
          "and "
          "trailing whitespace), collapse_whitespace (every run of whitespace becomes one space) and "
          "strip_punctuation (remove ASCII punctuation except apostrophes inside words). Works on text, on "
          "JSON "
          "strings, and on the \"transcript\" or \"text\" field of JSON objects (other fields are kept). "
          "Rules "
          "change ASCII characters only, so other UTF-8 text passes through intact. Other inputs are "
          "forwarded "
          "unchanged.",
      .accepts = {DataType::text, DataType::json},
      .emits = {DataType::text, DataType::json},
      .params =
          {
              ParamSpec{
                  .name = "rules",
                  .type = ParamType::string_list,
                  .default_value = defaults,
                  .description = "Cleanup rules, applied in the order given.",
                  .choices = {"lowercase", "uppercase", "trim", "collapse_whitespace", "strip_punctuation"}},
          },
  };
}

RM_REGISTER_NODE(TextCleanup, text_cleanup_contract());

}  // namespace
}  // namespace rm::nodes
