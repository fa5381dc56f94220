"""AudioGain: multiplies audio by params.gain (default 2.0), writing the result straight into
the output channel's shared memory with loan_audio (no intermediate buffer)."""
from remotemedia.nodes import MultiprocessNode, RuntimeData


class AudioGain(MultiprocessNode):
    contract = {"accepts": ["audio"], "emits": ["audio"],
                "description": "Multiplies samples by params.gain",
                "params": {"gain": {"type": "number", "default": 2.0}}}

    async def initialize(self):
        self.gain = float(self.params.get("gain", 2.0))

    async def process(self, data: RuntimeData):
        if data.data_type != "audio":
            yield data
            return
        src = data.audio.samples
        out = self.loan_audio(len(src), data.audio.sample_rate, data.audio.channels,
                              timestamp=data.timestamp)
        dst = out.audio.samples
        try:
            import numpy as np  # noqa: F401
            np.multiply(src, self.gain, out=dst)
        except ImportError:
            for i, x in enumerate(src):
                dst[i] = x * self.gain
        yield out
