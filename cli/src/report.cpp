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

std::string runnable_problem(const runtime::Manifest& m, const std::string& path) {
  if (m.inputs().empty()) {
    return fmt::format(
        "{} has no pipeline inputs (a connection `from` that names no node), so "
        "`remotemedia run` has nothing to feed",
        path);
  }
  return {};
}

void print_error(const std::string& message) {
  const auto tb = message.find("\nTraceback (most recent call last)");
  std::cerr << "error: " << message.substr(0, tb) << '\n';
}

}  // namespace rm::cli
