// remotemedia: see runtime/include/runtime/cli.hpp and docs/cli.md.
#include "runtime/cli.hpp"

int main(int argc, char** argv) { return rm::runtime::run_cli(argc, argv); }
