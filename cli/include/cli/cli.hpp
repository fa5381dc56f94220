#pragma once
// The `remotemedia` command line (docs/cli.md). apps/remotemedia/main.cpp only calls run_cli;
// each subcommand is one file in cli/src/ registered in cli/src/command.hpp.
//
//   remotemedia validate <manifest> [--explain]
//   remotemedia run <manifest> --input NAME=FILE [--realtime] [--output out.jsonl] [--output-dir DIR]
//   remotemedia nodes [--format text|markdown|json]
//   remotemedia doctor | cleanup [--all] | images ls|prune
//
// Exit codes: 0 success, 1 the manifest/input/pipeline failed (message on stderr), 2 usage error.

namespace rm::cli {

int run_cli(int argc, char** argv);

}  // namespace rm::cli
