"""SegmentStats: a Python host-process node for the demo pipeline.

Takes the speech segments the native SileroVAD node emits (audio RuntimeData, zero-copy numpy
views over shared memory) and yields one JSON line per segment: its start/end time, duration
and loudness. Written with the same API as the seed's Step 2 node.
"""
import math

from remotemedia.nodes import MultiprocessNode, RuntimeData

try:
    import numpy as np
except ImportError:  # the SDK works without numpy; so does this node, just slower
    np = None


class SegmentStats(MultiprocessNode):
    async def initialize(self):
        self.count = 0

    async def process(self, data: RuntimeData):
        if data.data_type != "audio":
            return
        samples = data.audio.samples
        rate = data.audio.sample_rate
        channels = data.audio.channels or 1
        n = len(samples)
        if np is not None:
            rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if n else 0.0
            peak = float(np.max(np.abs(samples))) if n else 0.0
        else:
            rms = math.sqrt(sum(s * s for s in samples) / n) if n else 0.0
            peak = max((abs(s) for s in samples), default=0.0)
        self.count += 1
        start_s = data.timestamp / 1e6
        duration_s = n / channels / rate if rate else 0.0
        yield RuntimeData(
            data_type="json",
            json={
                "segment": self.count,
                "start_ms": round(start_s * 1000),
                "end_ms": round((start_s + duration_s) * 1000),
                "duration_ms": round(duration_s * 1000),
                "rms_dbfs": round(20 * math.log10(rms)) if rms > 0 else None,
                "peak_percent": round(peak * 100),
            },
            timestamp=data.timestamp,
        )

    async def cleanup(self):
        pass
