"""The two nodes of examples/seed/scenario1-here.yaml. Each reports where it runs: its
interpreter, its numpy and the pip package installed into its image."""
import platform

import numpy
import rmdemo

from remotemedia.nodes import MultiprocessNode, RuntimeData


def _where():
    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "rmdemo": rmdemo.GREETING}


class LegacyModel(MultiprocessNode):
    """Node A: summarises each audio chunk and says which Python did it."""

    async def process(self, data: RuntimeData):
        samples = numpy.asarray(data.audio.samples, dtype=numpy.float32)
        yield RuntimeData(data_type="json",
                          json={"node_a": dict(_where(), frames=int(samples.size),
                                               peak=float(numpy.abs(samples).max()))},
                          timestamp=data.timestamp)


class ModernModel(MultiprocessNode):
    """Node B: adds its own report to node A's."""

    async def process(self, data: RuntimeData):
        report = dict(data.json)
        report["node_b"] = _where()
        yield RuntimeData(data_type="json", json=report, timestamp=data.timestamp)
