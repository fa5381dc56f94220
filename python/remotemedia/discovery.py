"""Finds a node class by its node_type (the class name).

Search order: every directory in env REMOTEMEDIA_NODE_PATH (colon-separated), then /app/nodes;
in each, every *.py file (sorted by name) is a candidate module -- a file is imported only if
its source defines `class <node_type>`, so unrelated modules are never executed. Then the SDK's
registry (remotemedia.nodes.registry, with built-ins such as SimpleTextCleanup).
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys

DEFAULT_NODE_DIR = "/app/nodes"


class NodeNotFound(LookupError):
    def __init__(self, node_type, looked, problems):
        self.node_type = node_type
        self.looked = looked
        self.problems = problems
        lines = [f"node_type {node_type!r} not found. Looked in:"]
        lines += [f"  - {x}" for x in looked]
        if problems:
            lines.append("Problems while importing candidates:")
            lines += [f"  - {p}" for p in problems]
        lines.append("Define `class %s(MultiprocessNode)` in a *.py file in one of these "
                     "directories (REMOTEMEDIA_NODE_PATH) or register it." % node_type)
        super().__init__("\n".join(lines))


def node_path():
    dirs = [d for d in os.environ.get("REMOTEMEDIA_NODE_PATH", "").split(":") if d]
    if DEFAULT_NODE_DIR not in dirs:
        dirs.append(DEFAULT_NODE_DIR)
    return dirs


def _import_file(path: str):
    name = "remotemedia_user_" + re.sub(r"\W", "_", os.path.splitext(path)[0].strip("/"))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    # The node's own directory is importable, so nodes can import helper modules beside them.
    d = os.path.dirname(path)
    if d not in sys.path:
        sys.path.insert(0, d)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


def find_node_class(node_type: str):
    """The class named node_type, or raises NodeNotFound listing every place it looked."""
    looked, problems = [], []
    pattern = re.compile(r"^\s*class\s+%s\b" % re.escape(node_type), re.M)
    for d in node_path():
        if not os.path.isdir(d):
            looked.append(f"{d} (not a directory)")
            continue
        files = sorted(f for f in os.listdir(d) if f.endswith(".py"))
        looked.append(f"{d} ({len(files)} *.py file{'s' if len(files) != 1 else ''})")
        for f in files:
            path = os.path.join(d, f)
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    if not pattern.search(fh.read()):
                        continue
                mod = _import_file(path)
            except Exception as e:  # a broken candidate is reported, not fatal to the search
                problems.append(f"{path}: {type(e).__name__}: {e}")
                continue
            cls = getattr(mod, node_type, None)
            if isinstance(cls, type):
                return cls
    from .nodes import registry
    cls = registry.get(node_type)
    looked.append("registered nodes: " + (", ".join(registry.names()) or "(none)"))
    if cls is not None:
        return cls
    raise NodeNotFound(node_type, looked, problems)
