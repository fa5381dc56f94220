"""Nodes that ship with the SDK (found by the runner without any node path)."""
from __future__ import annotations

import re
import string

from ..data import RuntimeData
from .base import MultiprocessNode
from .registry import register

_RULES = ("lowercase", "uppercase", "trim", "collapse_whitespace", "strip_punctuation")


@register
class SimpleTextCleanup(MultiprocessNode):
    """Applies text rules in order (params.rules, default ["lowercase", "trim"]): lowercase,
    uppercase, trim, collapse_whitespace, strip_punctuation. Takes text, or json/dict text with a
    "text" or "transcript" field (the field is cleaned and the object kept); passes other data
    through unchanged."""

    contract = {"accepts": ["text", "json"], "emits": ["text", "json"],
                "description": "Text cleanup rules (lowercase, trim, ...)",
                "params": {"rules": {"type": "string_list", "default": ["lowercase", "trim"]}}}

    async def initialize(self):
        rules = self.params.get("rules", ["lowercase", "trim"])
        if isinstance(rules, str):
            rules = [rules]
        bad = [r for r in rules if r not in _RULES]
        if bad:
            raise ValueError(f"node {self.node_id}: unknown rule(s) {bad}; "
                             f"known rules: {', '.join(_RULES)}")
        self.rules = list(rules)

    def clean(self, s: str) -> str:
        for r in self.rules:
            if r == "lowercase":
                s = s.lower()
            elif r == "uppercase":
                s = s.upper()
            elif r == "trim":
                s = s.strip()
            elif r == "collapse_whitespace":
                s = re.sub(r"\s+", " ", s)
            elif r == "strip_punctuation":
                s = s.translate(str.maketrans("", "", string.punctuation))
        return s

    async def process(self, data: RuntimeData):
        if data.data_type == "text" and isinstance(data.text, str):
            yield RuntimeData("text", text=self.clean(data.text), timestamp=data.timestamp)
            return
        obj = data.json if data.data_type == "json" else data.text
        if isinstance(obj, dict):
            out = dict(obj)
            for k in ("text", "transcript"):
                if isinstance(out.get(k), str):
                    out[k] = self.clean(out[k])
            yield RuntimeData("json", json=out, timestamp=data.timestamp)
            return
        yield data


@register
class Echo(MultiprocessNode):
    """Yields every input unchanged (re-encoded into the output channel). Used by the echo bench.
    (Named Echo, not PassThrough, so it never collides with the native PassThrough node.)"""

    async def process(self, data: RuntimeData):
        yield data
