"""The two nodes of examples/seed/scenario1-here.yaml. Each reports where it runs: its
interpreter and the version of the pip package installed into its image."""
import platform
from importlib import metadata

import rmdemo

from remotemedia.nodes import MultiprocessNode, RuntimeData


def _where():
    return {"python": platform.python_version(), "rmdemo": metadata.version("rmdemo"),
            "greeting": rmdemo.GREETING}


class LegacyModel(MultiprocessNode):
    """Node A: summarises each audio chunk and says which Python did it."""

    async def process(self, data: RuntimeData):
        samples = data.audio.samples  # a zero-copy view of the shared-memory record
        yield RuntimeData(data_type="json",
                          json={"node_a": dict(_where(), frames=len(samples),
                                               peak=max(abs(float(s)) for s in samples))},
                          timestamp=data.timestamp)


class ModernModel(MultiprocessNode):
    """Node B: adds its own report to node A's."""

    async def process(self, data: RuntimeData):
        report = dict(data.json)
        report["node_b"] = _where()
        yield RuntimeData(data_type="json", json=report, timestamp=data.timestamp)
