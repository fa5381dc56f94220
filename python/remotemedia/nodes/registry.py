"""Registry of node classes known to the SDK by name (besides those found in the node path).

    from remotemedia.nodes.registry import register
    @register
    class MyNode(MultiprocessNode): ...
"""
from __future__ import annotations

_REGISTRY = {}
_builtins_loaded = False


def register(cls=None, *, name=None):
    def deco(c):
        _REGISTRY[name or c.__name__] = c
        return c
    return deco(cls) if cls is not None else deco


def _load_builtins():
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        from . import builtin  # noqa: F401  (registers on import)


def get(name: str):
    _load_builtins()
    return _REGISTRY.get(name)


def names():
    _load_builtins()
    return sorted(_REGISTRY)
