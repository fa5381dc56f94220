#pragma once
// Printing a manifest's problems and warnings on stderr, the same way for every subcommand.
#include "runtime/manifest.hpp"

namespace rm::cli {

// Every issue, one line each, then "<source>: N errors".
void print_issues(const runtime::ManifestError& e);
void print_warnings(const runtime::Manifest& m);

// What `run` needs beyond a valid manifest (pipeline inputs to feed); `validate` reports the
// same, so the two agree. Empty when runnable.
std::string runnable_problem(const runtime::Manifest& m, const std::string& path);

// "error: <message>" without a Python traceback in it: the node's log lines (the runner's
// stderr) have already shown it once.
void print_error(const std::string& message);

}  // namespace rm::cli
