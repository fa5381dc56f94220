#include "report.hpp"

#include <iostream>

#include <fmt/format.h>

namespace rm::cli {

void print_issues(const runtime::ManifestError& e) {
  for (const auto& i : e.issues) std::cerr << i.format(e.source) << '\n';
  std::cerr << fmt::format("{}: {} error{}\n", e.source, e.issues.size(), e.issues.size() == 1 ? "" : "s");
}

void print_warnings(const runtime::Manifest& m) {
  for (const auto& w : m.warnings()) std::cerr << "warning: " << w << '\n';
}

}  // namespace rm::cli
