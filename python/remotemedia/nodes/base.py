"""MultiprocessNode: the base class of Python nodes run by the RemoteMedia runner.

Lifecycle (all on the runner's event loop, never concurrently):
    node = NodeClass(node_id=..., params={...})   # params from the manifest
    await node.initialize()                       # load models; inputs queue up meanwhile
    async for out in node.process(data): ...      # once per input, yields 0..n RuntimeData
    async for out in node.flush(): ...            # optional, at end of stream
    await node.cleanup()                          # always, also after errors and on SIGTERM
process() may also be a plain `async def` returning a RuntimeData, a list of them, or None.
"""
from __future__ import annotations

import sys

from ..data import AudioData, RuntimeData, VideoData, float_view, frame_bytes, pixel_view


class MultiprocessNode:
    # Optional contract announced in the READY handshake:
    # {"accepts": ["audio"], "emits": ["text"], "description": "...", "params": {...}}
    contract = None

    def __init__(self, node_id=None, params=None, **kwargs):
        self.node_id = node_id or type(self).__name__
        p = dict(params or {})
        p.update(kwargs)
        self.params = p
        self.session_id = getattr(self, "session_id", None)
        self._runtime = None  # set by the runner: gives access to the output channel

    async def initialize(self):
        pass

    async def process(self, data: RuntimeData):  # pragma: no cover - overridden
        if False:
            yield data

    async def cleanup(self):
        pass

    def report_progress(self, message: str, fraction=None):
        """Sends a progress message to the host (logged there) while initializing."""
        if self._runtime is not None:
            self._runtime.progress(message, fraction)
        else:
            print(f"[{self.node_id}] progress: {message}", file=sys.stderr)

    def loan_audio(self, n_samples: int, sample_rate: int = 16000, channels: int = 1,
                   timestamp: int = 0, metadata=None) -> RuntimeData:
        """An audio RuntimeData whose samples (numpy float32 array, or memoryview) are writable
        memory inside the output channel's shared-memory ring. Fill data.audio.samples in place,
        set data.timestamp if needed, then `yield` it: nothing is copied. Only one loan may be
        outstanding at a time; yield it before loaning the next. Outside the runner (tests) the
        buffer is ordinary memory."""
        if self._runtime is not None:
            return self._runtime.loan_audio(n_samples, sample_rate, channels, timestamp, metadata)
        buf = bytearray(4 * int(n_samples))
        return RuntimeData("audio", audio=AudioData(float_view(buf), sample_rate, channels),
                           timestamp=timestamp, metadata=metadata)

    def loan_video(self, width: int, height: int, pixel_format: str = "rgb24",
                   frame_number: int = 0, timestamp: int = 0) -> RuntimeData:
        """A video RuntimeData whose pixels (writable numpy uint8 array shaped like a received
        frame, or memoryview) are memory inside the output channel's ring: write the frame in
        place (e.g. np.subtract(255, data.video.pixels, out=out.video.pixels)) and `yield` it;
        nothing is copied. Same rules as loan_audio."""
        if self._runtime is not None:
            return self._runtime.loan_video(width, height, pixel_format, frame_number, timestamp)
        buf = bytearray(frame_bytes(pixel_format, int(width), int(height)))
        return RuntimeData("video", video=VideoData(pixel_view(buf, pixel_format, width, height),
                                                    width, height, pixel_format, frame_number),
                           timestamp=timestamp)
