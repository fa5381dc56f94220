#include "script.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "promql/engine.hpp"
#include "promql/parser.hpp"

namespace promql_test {

using namespace rm::promql;

namespace {

// The script's series, exactly as loaded.
class ScriptStorage final : public Storage {
 public:
  std::vector<SeriesData> all;

  std::vector<SeriesData> select(const std::vector<Matcher>& matchers, std::int64_t mint,
                                 std::int64_t maxt) const override {
    std::vector<SeriesData> out;
    for (const auto& s : all) {
      if (!matches_all(matchers, s.labels)) continue;
      SeriesData d{s.labels, {}};
      for (const auto& x : s.samples) {
        if (x.t >= mint && x.t <= maxt) d.samples.push_back(x);
      }
      if (!d.samples.empty()) out.push_back(std::move(d));
    }
    return out;
  }
  std::vector<Labels> series(const std::vector<Matcher>& matchers, std::int64_t mint,
                             std::int64_t maxt) const override {
    std::vector<Labels> out;
    for (auto& s : select(matchers, mint, maxt)) out.push_back(s.labels);
    return out;
  }
  void add(Labels labels, std::vector<Sample> samples) {
    for (auto& s : all) {
      if (s.labels == labels) {
        s.samples.insert(s.samples.end(), samples.begin(), samples.end());
        std::sort(s.samples.begin(), s.samples.end(),
                  [](const Sample& a, const Sample& b) { return a.t < b.t; });
        return;
      }
    }
    all.push_back({std::move(labels), std::move(samples)});
    std::sort(all.begin(), all.end(),
              [](const SeriesData& a, const SeriesData& b) { return labels_less(a.labels, b.labels); });
  }
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// Splits "<series descriptor> <rest>" where the descriptor may contain spaces inside {}.
std::pair<std::string, std::string> split_series(const std::string& line) {
  std::size_t i = 0;
  int depth = 0;
  bool quoted = false;
  for (; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (c == '"')
      quoted = true;
    else if (c == '{')
      ++depth;
    else if (c == '}')
      --depth;
    else if ((c == ' ' || c == '\t') && depth == 0)
      break;
  }
  return {line.substr(0, i), trim(line.substr(std::min(i, line.size())))};
}

bool parse_labels(const std::string& desc, Labels& out) {
  out.clear();
  if (desc == "{}") return true;
  auto e = parse(desc);
  if (!e) return false;
  auto* vs = std::get_if<VectorSelector>(&(*e)->node);
  if (!vs) return false;
  for (const auto& m : vs->matchers) out.emplace_back(m.name, m.value);
  std::sort(out.begin(), out.end());
  return true;
}

double parse_number(const std::string& s) {
  if (s == "Inf" || s == "+Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  if (s == "NaN") return NAN;
  return std::stod(s);
}

// Values of a load line: numbers, `_` (gap), `stale`, `a+bxn` / `a-bxn` (n+1 values), `_xn`.
std::vector<std::optional<double>> expand(const std::string& text) {
  static const std::regex series_re(R"(^([-+]?[^+\-x]+(?:e[-+]?\d+)?)([+-])([^x]+)x(\d+)$)");
  static const std::regex gaps_re(R"(^_x(\d+)$)");
  std::vector<std::optional<double>> out;
  std::istringstream in(text);
  std::string tok;
  std::smatch m;
  while (in >> tok) {
    if (tok == "_") {
      out.push_back(std::nullopt);
    } else if (tok == "stale") {
      out.push_back(stale_marker());
    } else if (std::regex_match(tok, m, gaps_re)) {
      for (int i = 0; i < std::stoi(m[1]); ++i) out.push_back(std::nullopt);
    } else if (std::regex_match(tok, m, series_re)) {
      const double a = parse_number(m[1]);
      const double b = parse_number(m[3]) * (m[2] == "-" ? -1 : 1);
      for (int i = 0; i <= std::stoi(m[4]); ++i) out.push_back(a + b * i);
    } else {
      out.push_back(parse_number(tok));
    }
  }
  return out;
}

bool almost_equal(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  const double diff = std::abs(a - b);
  return diff <= 1e-6 * std::max(std::abs(a), std::abs(b)) || diff < 1e-300;
}

std::string render(const std::map<std::string, std::vector<std::optional<double>>>& r) {
  std::string out;
  for (const auto& [k, vs] : r) {
    out += "\n    " + k;
    for (const auto& v : vs) out += v ? fmt::format(" {}", *v) : std::string(" _");
  }
  return out.empty() ? "\n    (nothing)" : out;
}

struct Eval {
  int line = 0;
  bool fail = false;
  bool range = false;
  std::int64_t start = 0, end = 0, step = 1;
  std::string expr;
  std::vector<std::string> expected;
};

void check(const ScriptStorage& storage, const Eval& ev, std::vector<ScriptFailure>& failures) {
  auto err = [&](std::string msg) { failures.push_back({ev.line, fmt::format("{}: {}", ev.expr, msg)}); };
  auto expr = parse(ev.expr);
  tl::expected<QueryResult, Error> res = tl::unexpected(Error{});
  if (expr) {
    res = ev.range ? range_query(storage, **expr, ev.start, ev.end, ev.step)
                   : instant_query(storage, **expr, ev.start);
  }
  if (ev.fail) {
    if (expr && res) err("expected an error, got a result");
    return;
  }
  if (!expr) return err("parse failed: " + expr.error().message);
  if (!res) return err("evaluation failed: " + res.error().message);
  const std::size_t steps = ev.range ? static_cast<std::size_t>((ev.end - ev.start) / ev.step) + 1 : 1;
  std::map<std::string, std::vector<std::optional<double>>> got, want;
  if (res->type == ValueType::scalar) {
    got["scalar"] = {res->scalar.v};
  } else {
    for (const auto& s : res->series) {
      auto& row = got[format_labels(s.labels)];
      row.assign(steps, std::nullopt);
      for (const auto& p : s.points) {
        row[ev.range ? static_cast<std::size_t>((p.t - ev.start) / ev.step) : 0] = p.v;
      }
    }
  }
  for (const auto& line : ev.expected) {
    auto [desc, values] = split_series(line);
    if (values.empty() && (std::isdigit(static_cast<unsigned char>(desc[0])) || desc[0] == '-' ||
                           desc[0] == '.' || desc == "NaN" || desc == "Inf")) {
      want["scalar"] = {parse_number(desc)};
      continue;
    }
    Labels l;
    if (!parse_labels(desc, l)) return err("bad expected series " + desc);
    want[format_labels(l)] = expand(values);
  }
  bool same = got.size() == want.size();
  for (auto it = got.begin(); same && it != got.end(); ++it) {
    auto w = want.find(it->first);
    if (w == want.end() || w->second.size() != it->second.size()) {
      same = false;
      break;
    }
    for (std::size_t i = 0; i < w->second.size(); ++i) {
      const auto& a = it->second[i];
      const auto& b = w->second[i];
      if (a.has_value() != b.has_value() || (a && !almost_equal(*a, *b))) same = false;
    }
  }
  if (!same) err(fmt::format("\n  want:{}\n  got:{}", render(want), render(got)));
}

}  // namespace

std::vector<ScriptFailure> run_script(const std::string& text) {
  std::vector<ScriptFailure> failures;
  ScriptStorage storage;
  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  std::int64_t load_step = 0;
  bool loading = false;
  std::optional<Eval> pending;
  auto flush = [&] {
    if (pending) check(storage, *pending, failures);
    pending.reset();
  };
  static const std::regex instant_re(R"(^(eval|eval_fail|eval_ordered) instant at (\S+) (.+)$)");
  static const std::regex range_re(R"(^(eval|eval_fail) range from (\S+) to (\S+) step (\S+) (.+)$)");
  auto duration = [&](const std::string& s) -> std::int64_t {
    if (s == "0") return 0;
    auto d = parse_duration(s);
    if (!d) failures.push_back({lineno, "bad duration " + s});
    return d.value_or(0);
  };
  while (std::getline(in, raw)) {
    ++lineno;
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') {
      if (line.empty()) {
        flush();
        loading = false;
      }
      continue;
    }
    const bool indented = raw[0] == ' ' || raw[0] == '\t';
    std::smatch m;
    if (indented && pending) {
      pending->expected.push_back(line);
    } else if (indented && loading) {
      auto [desc, values] = split_series(line);
      Labels l;
      if (!parse_labels(desc, l)) {
        failures.push_back({lineno, "bad series " + desc});
        continue;
      }
      std::vector<Sample> samples;
      auto vals = expand(values);
      for (std::size_t i = 0; i < vals.size(); ++i) {
        if (vals[i]) samples.push_back({static_cast<std::int64_t>(i) * load_step, *vals[i]});
      }
      storage.add(std::move(l), std::move(samples));
    } else if (line.rfind("load ", 0) == 0) {
      flush();
      load_step = duration(line.substr(5));
      loading = true;
    } else if (line == "clear") {
      flush();
      storage.all.clear();
      loading = false;
    } else if (std::regex_match(line, m, instant_re)) {
      flush();
      loading = false;
      pending = Eval{lineno, m[1] == "eval_fail", false, duration(m[2]), 0, 1, m[3], {}};
    } else if (std::regex_match(line, m, range_re)) {
      flush();
      loading = false;
      pending =
          Eval{lineno, m[1] == "eval_fail", true, duration(m[2]), duration(m[3]), duration(m[4]), m[5], {}};
    } else {
      failures.push_back({lineno, "unrecognised script line: " + line});
    }
  }
  flush();
  return failures;
}

std::vector<ScriptFailure> run_script_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {{0, "cannot open " + path}};
  std::stringstream ss;
  ss << f.rdbuf();
  return run_script(ss.str());
}

}  // namespace promql_test
