#pragma once
// Printing a manifest's problems and warnings on stderr, the same way for every subcommand.
#include "runtime/manifest.hpp"

namespace rm::cli {

// Every issue, one line each, then "<source>: N errors".
void print_issues(const runtime::ManifestError& e);
void print_warnings(const runtime::Manifest& m);

}  // namespace rm::cli
