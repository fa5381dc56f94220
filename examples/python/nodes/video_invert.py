"""VideoInvert: answers every video frame with its negative (255 - each byte), written straight
into the output channel (loan_video: no copy besides the inversion itself). Params:
    mode: "invert" (default) or "echo" (the same bytes back; one copy into the loan)
Works with and without numpy. Other values pass through unchanged."""
from remotemedia.nodes import MultiprocessNode, RuntimeData

try:
    import numpy as np
except Exception:  # the SDK does not require numpy
    np = None

_NEGATIVE = bytes(255 - i for i in range(256))


class VideoInvert(MultiprocessNode):
    async def process(self, data: RuntimeData):
        if data.data_type != "video":
            yield data
            return
        v = data.video
        out = self.loan_video(v.width, v.height, v.pixel_format, v.frame_number, data.timestamp)
        dst = out.video.pixels
        echo = self.params.get("mode", "invert") == "echo"
        if np is not None:
            if echo:
                np.copyto(dst, v.pixels)
            else:
                np.subtract(255, v.pixels, out=dst)
        else:
            src = v.pixel_bytes()
            dst[:] = src if echo else bytes(src).translate(_NEGATIVE)
        yield out
