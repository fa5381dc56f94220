"""The man page names every subcommand and every long option the CLI has.

Usage: man_page_test.py <remotemedia binary> <docs/remotemedia.1>
Reads `remotemedia --help` and each subcommand's `--help` (CLI11 output), and fails naming each
subcommand or option the man page does not mention.
"""
import re
import subprocess
import sys


def help_text(binary, *args):
    return subprocess.run([binary, *args, "--help"], capture_output=True, text=True, check=True).stdout


def subcommands(text):
    body = text.split("Subcommands:", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  (\w[\w-]*)\s", body, re.M)]


def long_options(text):
    return sorted({o for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text) if o != "--help"})


def main():
    binary, man_path = sys.argv[1], sys.argv[2]
    man = open(man_path, encoding="utf-8").read().replace("\\-", "-")
    missing = []
    subs = subcommands(help_text(binary))
    if len(subs) < 5:
        sys.exit(f"could not read the subcommands from `{binary} --help`: {subs}")
    for sub in subs:
        if not re.search(rf"^\.B remotemedia {re.escape(sub)}\b", man, re.M):
            missing.append(f"subcommand `{sub}` (no `.B remotemedia {sub}` in SYNOPSIS)")
        for opt in long_options(help_text(binary, sub)):
            if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", man):
                missing.append(f"option `{sub} {opt}`")
    if missing:
        print(f"{man_path} does not mention:", *missing, sep="\n  ")
        sys.exit(1)
    print(f"{man_path}: {len(subs)} subcommands and their options all documented")


if __name__ == "__main__":
    main()
