"""python -m remotemedia.runner: runs one Python node for one session over shared memory.

    python -m remotemedia.runner --node-type T --node-id N --session-id S
        [--ipc-dir D] [--params-json J | --params-file F] [--open-timeout-ms MS]
    python -m remotemedia.runner --serve DIR [--preload T]...
        resident runner server of a shared container: forks one such runner per session
        from a warm interpreter (remotemedia/server.py describes its socket protocol)

The session itself (channels, initialize, READY, the process loop) is remotemedia/session.py,
shared with the runner server (remotemedia/server.py).

Exit codes: 0 after SIGTERM, end of input or host gone (cleanup ran); 1 initialize failed;
2 bad arguments, node_type not found or channels unavailable.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .ipc import default_session_dir
from .session import run_session


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m remotemedia.runner",
                                 description="Run one RemoteMedia Python node over shared memory.")
    ap.add_argument("--node-type", required=True)
    ap.add_argument("--node-id", required=True)
    ap.add_argument("--session-id", required=True)
    ap.add_argument("--ipc-dir", default=None,
                    help="session IPC directory (default $RM_IPC_ROOT/<session>)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--params-json", default=None)
    g.add_argument("--params-file", default=None)
    ap.add_argument("--open-timeout-ms", type=int, default=5000)
    args = ap.parse_args(argv)
    if args.ipc_dir is None:
        args.ipc_dir = default_session_dir(args.session_id)
    return args


def load_params(args):
    try:
        if args.params_file:
            with open(args.params_file, encoding="utf-8") as f:
                raw = f.read()
            src = args.params_file
        else:
            raw = args.params_json or os.environ.get("RM_NODE_PARAMS") or "{}"
            src = "--params-json"
        p = json.loads(raw) if raw.strip() else {}
    except (OSError, ValueError) as e:
        raise SystemExit(f"runner: cannot read params from {src}: {e}")
    if p is None:
        p = {}
    if not isinstance(p, dict):
        raise SystemExit(f"runner: params from {src} must be a JSON object, got {type(p).__name__}")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a == "--serve" or a.startswith("--serve=") for a in argv):
        from . import server
        return server.main(argv)
    args = parse_args(argv)
    try:
        params = load_params(args)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    return run_session(args, params)


if __name__ == "__main__":
    sys.exit(main())
