// remotemedia: see cli/include/cli/cli.hpp and docs/cli.md.
#include "cli/cli.hpp"

int main(int argc, char** argv) { return rm::cli::run_cli(argc, argv); }
