"""RuntimeData: the value that flows between pipeline nodes, mirrored from the C++ runtime.

data_type is one of "audio", "text", "json", "binary", "tensor", "numpy", "control",
"end_of_stream" (the C++ DataType names). Timestamps are integers in microseconds of media time
(the envelope's timestamp_us).

Audio samples are interleaved float32. On input they are a zero-copy view of the shared-memory
record (a read-only numpy array when numpy imports, else a memoryview cast to 'f'); the view is
valid only while process() runs for that input -- copy it (np.array(x)) to keep it longer.

Video frames (data_type "video") are uncompressed, tightly packed: VideoData(pixels, width,
height, pixel_format, frame_number) with pixel_format one of "rgb24", "rgba", "yuv420p", "gray".
On input the pixels are a zero-copy, read-only view of the record like audio samples: a numpy
uint8 array shaped (height, width, 3) for rgb24, (height, width, 4) for rgba, (height, width) for
gray, and flat (Y plane, then U, then V) for yuv420p.

A dict given as text (the seed's `text={"transcript": ...}`) is carried as a json value:
data_type stays "text" on the Python side until it is encoded, and the host sees a json value
with that object. Plain strings stay text.
"""
from __future__ import annotations

try:  # numpy is optional: the SDK works without it (memoryviews instead of arrays).
    import numpy as _np
except Exception:  # pragma: no cover - depends on the environment
    _np = None

DATA_TYPES = (  # "video": VideoData
    "audio", "video", "text", "tensor", "control", "numpy", "file", "end_of_stream", "json",
    "binary",
)


def has_numpy() -> bool:
    return _np is not None


def float_view(buf):
    """A float32 view of `buf` without copying: numpy array if available, else memoryview."""
    if _np is not None:
        return _np.frombuffer(buf, dtype=_np.float32)
    mv = memoryview(buf)
    if mv.format != "f":
        mv = mv.cast("B").cast("f")
    return mv


class AudioData:
    """Interleaved float32 PCM: samples, sample_rate (Hz), channels."""

    __slots__ = ("samples", "sample_rate", "channels")

    def __init__(self, samples, sample_rate: int = 16000, channels: int = 1):
        if isinstance(samples, (list, tuple)):
            if _np is not None:
                samples = _np.asarray(samples, dtype=_np.float32)
            else:
                import array
                samples = memoryview(array.array("f", samples))
        self.samples = samples
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)

    def sample_bytes(self):
        """The samples as a bytes-like object of float32 (no copy when already float32)."""
        s = self.samples
        if _np is not None and isinstance(s, _np.ndarray):
            if s.dtype != _np.float32:
                s = s.astype(_np.float32)
            return memoryview(_np.ascontiguousarray(s)).cast("B")
        mv = memoryview(s)
        if mv.format not in ("f", "B", "b", "c"):
            raise TypeError(f"audio samples must be float32, got format {mv.format!r}")
        return mv.cast("B") if mv.format != "B" else mv

    @property
    def frames(self) -> int:
        n = len(self.samples)
        return n // self.channels if self.channels else 0

    def __repr__(self):
        return f"AudioData({self.sample_rate} Hz x{self.channels}, {self.frames} frames)"


PIXEL_FORMATS = {"rgb24": 1, "rgba": 2, "yuv420p": 3, "gray": 4}
PIXEL_FORMAT_NAMES = {v: k for k, v in PIXEL_FORMATS.items()}


def frame_bytes(pixel_format: str, width: int, height: int) -> int:
    """Bytes of one tightly packed frame (the envelope's rule, ipc/envelope.hpp)."""
    px = width * height
    if pixel_format == "rgb24":
        return 3 * px
    if pixel_format == "rgba":
        return 4 * px
    if pixel_format == "gray":
        return px
    if pixel_format == "yuv420p":
        return px + 2 * ((width + 1) // 2) * ((height + 1) // 2)
    raise ValueError(f"unknown pixel_format {pixel_format!r}; expected one of "
                     f"{', '.join(PIXEL_FORMATS)}")


def pixel_view(buf, pixel_format: str, width: int, height: int):
    """A uint8 view of `buf` without copying, shaped for the format (numpy), else memoryview."""
    if _np is None:
        return memoryview(buf).cast("B")
    a = _np.frombuffer(buf, dtype=_np.uint8)
    if pixel_format == "rgb24":
        return a.reshape(height, width, 3)
    if pixel_format == "rgba":
        return a.reshape(height, width, 4)
    if pixel_format == "gray":
        return a.reshape(height, width)
    return a


class VideoData:
    """One uncompressed video frame: pixels, width, height, pixel_format, frame_number."""

    __slots__ = ("pixels", "width", "height", "pixel_format", "frame_number")

    def __init__(self, pixels, width: int, height: int, pixel_format: str = "rgb24",
                 frame_number: int = 0):
        self.width = int(width)
        self.height = int(height)
        self.pixel_format = str(pixel_format)
        self.frame_number = int(frame_number)
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"VideoData: {self.width}x{self.height} has a zero or negative "
                             "dimension")
        want = frame_bytes(self.pixel_format, self.width, self.height)
        if isinstance(pixels, (bytes, bytearray)):
            pixels = pixel_view(pixels, self.pixel_format, self.width, self.height) \
                if len(pixels) == want else pixels
        self.pixels = pixels
        have = len(self.pixel_bytes())
        if have != want:
            raise ValueError(f"VideoData: {have} bytes of pixels, but a {self.width}x"
                             f"{self.height} {self.pixel_format} frame is {want} bytes")

    def pixel_bytes(self):
        """The pixels as a flat bytes-like object of uint8 (no copy when contiguous uint8)."""
        p = self.pixels
        if _np is not None and isinstance(p, _np.ndarray):
            if p.dtype != _np.uint8:
                raise TypeError(f"video pixels must be uint8, got {p.dtype}")
            if not p.flags.c_contiguous:
                p = _np.ascontiguousarray(p)
            return memoryview(p.reshape(-1))
        mv = memoryview(p)
        return mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv

    @property
    def nbytes(self) -> int:
        return frame_bytes(self.pixel_format, self.width, self.height)

    def __repr__(self):
        return (f"VideoData({self.width}x{self.height} {self.pixel_format}, "
                f"frame {self.frame_number})")


class TensorData:
    """A tensor without numpy: shape, numpy dtype spelling ("float32", ...), raw bytes."""

    __slots__ = ("shape", "dtype", "data")

    def __init__(self, shape, dtype: str, data):
        self.shape = tuple(int(x) for x in shape)
        self.dtype = str(dtype)
        self.data = data

    def to_numpy(self):
        if _np is None:
            raise RuntimeError("numpy is not installed")
        return _np.frombuffer(self.data, dtype=self.dtype).reshape(self.shape)

    def __repr__(self):
        return f"TensorData(shape={self.shape}, dtype={self.dtype})"


def _infer_type(text, audio, json, binary, tensor, control, video=None):
    if audio is not None:
        return "audio"
    if video is not None:
        return "video"
    if text is not None:
        return "text"
    if json is not None:
        return "json"
    if binary is not None:
        return "binary"
    if tensor is not None:
        return "tensor"
    if control is not None:
        return "control"
    return "end_of_stream"


class RuntimeData:
    """One value on a pipeline edge.

    RuntimeData(data_type="text", text="hello", timestamp=0)
    RuntimeData(data_type="audio", audio=AudioData(samples, 16000, 1))
    RuntimeData(data_type="video", video=VideoData(pixels, 1920, 1080, "rgb24", frame_number=7))
    RuntimeData(data_type="json", json={"a": 1})
    RuntimeData(data_type="binary", binary=b"...", mime_type="image/png")
    RuntimeData(data_type="tensor", tensor=np_array_or_TensorData)   # or data_type="numpy"
    RuntimeData(data_type="control", control={"kind": "speech_start", "payload": {...}})
    RuntimeData.end_of_stream()
    `audio` may also be a dict {"samples", "sample_rate", "channels"} or a (samples, rate[, ch])
    tuple.
    """

    __slots__ = ("data_type", "text", "audio", "video", "json", "binary", "tensor", "control",
                 "timestamp", "metadata", "mime_type", "_loan")

    def __init__(self, data_type=None, text=None, audio=None, json=None, binary=None,
                 tensor=None, numpy=None, control=None, timestamp=0, metadata=None,
                 mime_type="", video=None):
        if numpy is not None and tensor is None:
            tensor = numpy
            if data_type is None:
                data_type = "numpy"
        if data_type is None:
            data_type = _infer_type(text, audio, json, binary, tensor, control, video)
        if data_type not in DATA_TYPES:
            raise ValueError(f"RuntimeData: unknown data_type {data_type!r}; "
                             f"expected one of {', '.join(DATA_TYPES)}")
        if isinstance(audio, dict):
            audio = AudioData(audio["samples"], audio.get("sample_rate", 16000),
                              audio.get("channels", 1))
        elif isinstance(audio, tuple):
            audio = AudioData(*audio)
        self.data_type = data_type
        self.text = text
        self.audio = audio
        self.video = video
        self.json = json
        self.binary = binary
        self.tensor = tensor
        self.control = control
        self.timestamp = int(timestamp or 0)
        self.metadata = dict(metadata) if metadata else {}
        self.mime_type = mime_type or ""
        self._loan = None
        self._check()

    def _check(self):
        # A json value may be null; every other typed value needs its field.
        need = {"audio": self.audio, "video": self.video, "text": self.text, "binary": self.binary,
                "tensor": self.tensor, "numpy": self.tensor, "control": self.control}
        if self.data_type in need and need[self.data_type] is None:
            field = "tensor" if self.data_type == "numpy" else self.data_type
            raise ValueError(f"RuntimeData(data_type={self.data_type!r}) needs {field}=...")

    # Convenience constructors.
    @classmethod
    def audio_of(cls, samples, sample_rate=16000, channels=1, timestamp=0, metadata=None):
        return cls("audio", audio=AudioData(samples, sample_rate, channels), timestamp=timestamp,
                   metadata=metadata)

    @classmethod
    def end_of_stream(cls, timestamp=0):
        return cls("end_of_stream", timestamp=timestamp)

    @property
    def is_end_of_stream(self) -> bool:
        return self.data_type == "end_of_stream"

    def as_text(self) -> str:
        """Text of a text value; for a dict text or a json value, its "text"/"transcript" field
        or the JSON string."""
        import json as _json
        v = self.text if self.text is not None else self.json
        if isinstance(v, str):
            return v
        if isinstance(v, dict):
            for k in ("text", "transcript"):
                if isinstance(v.get(k), str):
                    return v[k]
        return _json.dumps(v)

    def __repr__(self):
        body = {"audio": self.audio, "video": self.video, "text": self.text, "json": self.json,
                "binary": None if self.binary is None else f"<{len(self.binary)} bytes>",
                "tensor": self.tensor, "numpy": self.tensor, "control": self.control,
                }.get(self.data_type)
        return f"RuntimeData({self.data_type}, {body!r}, t={self.timestamp}us)"
