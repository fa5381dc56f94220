"""The wire envelope (docs/ipc.md), identical to the C++ codec. All integers little endian.

    envelope := type:u8 | session_len:u16 | session | timestamp_us:u64 | payload_len:u32 | payload
    type     := 1 audio, 2 video, 3 text, 4 tensor, 5 control, 6 numpy, 7 file,
                8 end_of_stream, 9 json, 10 binary
    audio    := sample_rate:u32 | channels:u16 | meta_len:u32 | meta (JSON object) | f32 samples
    text     := UTF-8 bytes
    json     := UTF-8 JSON text
    binary   := mime_len:u16 | mime | bytes
    tensor   := dtype_len:u8 | dtype | ndim:u8 | shape: i64 * ndim | data  (numpy uses the same)
    video    := version:u8 (=1) | pixel_format:u8 | width:u32 | height:u32 | frame_number:u64 | pixels
                (pixel_format 1 rgb24, 2 rgba, 3 yuv420p, 4 gray; pixels exactly frame_bytes())
    control  := UTF-8 JSON {"kind": str, "payload": object}
    end_of_stream := empty

The audio encoder pads the meta JSON with trailing spaces so the samples start 4-byte aligned
relative to the envelope start (records are 8-aligned in the ring), which lets both sides view
the samples in place as float32. Decoders accept any alignment.
Decoding never reads past the buffer: truncated or inconsistent input raises EnvelopeError
naming the field and the offset.
"""
from __future__ import annotations

import json as _json
import struct

from .data import (PIXEL_FORMAT_NAMES, PIXEL_FORMATS, AudioData, RuntimeData, TensorData,
                   VideoData, float_view, frame_bytes, has_numpy, pixel_view)

TYPE_TAGS = {"audio": 1, "video": 2, "text": 3, "tensor": 4, "control": 5, "numpy": 6,
             "file": 7, "end_of_stream": 8, "json": 9, "binary": 10}
TAG_NAMES = {v: k for k, v in TYPE_TAGS.items()}

_HEAD = struct.Struct("<BH")
_TS_LEN = struct.Struct("<QI")
_AUDIO = struct.Struct("<IHI")
_VIDEO = struct.Struct("<BBIIQ")
VIDEO_VERSION = 1


def _dumps(v) -> bytes:
    # Compact UTF-8 JSON, byte-identical to boost::json::serialize for the same value.
    return _json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()
MAX_SESSION = 0xFFFF


class EnvelopeError(ValueError):
    pass


def header_size(session: str) -> int:
    return 1 + 2 + len(session.encode()) + 8 + 4


def _audio_meta(metadata: dict, prefix: int) -> bytes:
    """Meta JSON padded with spaces so that prefix + 10 + len(meta) is a multiple of 4."""
    meta = _dumps(metadata) if metadata else b""
    pad = (-(prefix + _AUDIO.size + len(meta))) % 4
    if pad and not meta:
        meta = b"{}"
        pad = (-(prefix + _AUDIO.size + len(meta))) % 4
    return meta + b" " * pad


def audio_layout(session: str, n_samples: int, metadata=None):
    """(total envelope size, offset of the samples, meta bytes) for an audio envelope."""
    h = header_size(session)
    meta = _audio_meta(metadata or {}, h)
    off = h + _AUDIO.size + len(meta)
    return off + 4 * n_samples, off, meta


def write_header(buf, session: str, tag: int, timestamp_us: int, payload_len: int) -> int:
    """Writes the envelope header into buf (writable buffer) and returns the payload offset."""
    s = session.encode()
    if len(s) > MAX_SESSION:
        raise EnvelopeError(f"session id is {len(s)} bytes; the envelope allows at most 65535")
    _HEAD.pack_into(buf, 0, tag, len(s))
    buf[3:3 + len(s)] = s
    _TS_LEN.pack_into(buf, 3 + len(s), timestamp_us & 0xFFFFFFFFFFFFFFFF, payload_len)
    return 3 + len(s) + 12


def write_audio_prefix(buf, session, timestamp_us, sample_rate, channels, meta, n_samples):
    off = write_header(buf, session, 1, timestamp_us, _AUDIO.size + len(meta) + 4 * n_samples)
    _AUDIO.pack_into(buf, off, sample_rate, channels, len(meta))
    off += _AUDIO.size
    buf[off:off + len(meta)] = meta
    return off + len(meta)


def video_layout(session: str, pixel_format: str, width: int, height: int):
    """(total envelope size, offset of the pixels) for a video envelope."""
    off = header_size(session) + _VIDEO.size
    return off + frame_bytes(pixel_format, width, height), off


def write_video_prefix(buf, session, timestamp_us, v: VideoData) -> int:
    """Writes envelope header and video head into buf; returns the offset of the pixels."""
    if v.pixel_format not in PIXEL_FORMATS:
        raise EnvelopeError(f"unknown pixel_format {v.pixel_format!r}")
    n = frame_bytes(v.pixel_format, v.width, v.height)
    off = write_header(buf, session, 2, timestamp_us, _VIDEO.size + n)
    _VIDEO.pack_into(buf, off, VIDEO_VERSION, PIXEL_FORMATS[v.pixel_format], v.width, v.height,
                     v.frame_number & 0xFFFFFFFFFFFFFFFF)
    return off + _VIDEO.size


def _tensor_parts(t):
    """(shape, dtype, bytes-like) of a numpy array or TensorData."""
    if isinstance(t, TensorData):
        return t.shape, t.dtype, memoryview(t.data).cast("B")
    if has_numpy():
        import numpy as np
        if isinstance(t, np.ndarray):
            a = np.ascontiguousarray(t)
            return a.shape, a.dtype.name, memoryview(a).cast("B") if a.size else b""
    raise EnvelopeError(f"tensor must be a numpy array or TensorData, got {type(t).__name__}")


def payload_parts(d: RuntimeData):
    """(tag, list of bytes-like parts) for d's payload."""
    t = d.data_type
    if t == "text" and isinstance(d.text, (dict, list)):
        return 9, [_dumps(d.text)]
    if t == "text":
        return 3, [str(d.text).encode()]
    if t == "json":
        return 9, [_dumps(d.json)]
    if t == "binary":
        mime = (d.mime_type or "").encode()
        return 10, [struct.pack("<H", len(mime)), mime, memoryview(d.binary).cast("B")]
    if t in ("tensor", "numpy"):
        shape, dtype, data = _tensor_parts(d.tensor)
        dt = dtype.encode()
        head = struct.pack("<B", len(dt)) + dt + struct.pack("<B", len(shape)) + \
            struct.pack(f"<{len(shape)}q", *shape)
        return TYPE_TAGS[t], [head, data]
    if t == "control":
        c = d.control
        if isinstance(c, str):
            c = {"kind": c, "payload": {}}
        c = {"kind": str(c.get("kind", "")), "payload": c.get("payload", {}) or {}}
        return 5, [_dumps(c)]
    if t == "end_of_stream":
        return 8, []
    raise EnvelopeError(f"cannot encode data_type {t!r}")


def encoded_size(session: str, d: RuntimeData) -> int:
    if d.data_type == "video":
        v = d.video
        return video_layout(session, v.pixel_format, v.width, v.height)[0]
    if d.data_type == "audio":
        n = len(d.audio.sample_bytes()) // 4
        return audio_layout(session, n, d.metadata)[0]
    _, parts = payload_parts(d)
    return header_size(session) + sum(len(p) for p in parts)


def encode_into(buf, session: str, d: RuntimeData) -> int:
    """Encodes d into the writable buffer buf (at least encoded_size bytes); returns the size."""
    if d.data_type == "video":
        v = d.video
        off = write_video_prefix(buf, session, d.timestamp, v)
        raw = v.pixel_bytes()
        buf[off:off + len(raw)] = raw
        return off + len(raw)
    if d.data_type == "audio":
        a = d.audio
        raw = a.sample_bytes()
        n = len(raw) // 4
        total, off, meta = audio_layout(session, n, d.metadata)
        write_audio_prefix(buf, session, d.timestamp, a.sample_rate, a.channels, meta, n)
        buf[off:off + len(raw)] = raw
        return total
    tag, parts = payload_parts(d)
    off = write_header(buf, session, tag, d.timestamp, sum(len(p) for p in parts))
    for p in parts:
        buf[off:off + len(p)] = p
        off += len(p)
    return off


def encode(session: str, d: RuntimeData) -> bytes:
    out = bytearray(encoded_size(session, d))
    n = encode_into(out, session, d)
    return bytes(out[:n])


def _need(mv, off, n, what):
    if n < 0 or off + n > len(mv):
        raise EnvelopeError(f"envelope truncated: {what} needs {n} bytes at offset {off}, "
                            f"only {max(0, len(mv) - off)} left")


def decode(buf, copy: bool = False):
    """Decodes one envelope. Returns (session, RuntimeData). Audio samples and binary/tensor
    bytes are zero-copy views into buf unless copy=True."""
    mv = memoryview(buf).cast("B") if not isinstance(buf, memoryview) else buf.cast("B")
    _need(mv, 0, 3, "type and session_len")
    tag, slen = _HEAD.unpack_from(mv, 0)
    if tag not in TAG_NAMES:
        raise EnvelopeError(f"unknown envelope type tag {tag} at offset 0")
    _need(mv, 3, slen, "session id")
    session = bytes(mv[3:3 + slen]).decode("utf-8", "replace")
    off = 3 + slen
    _need(mv, off, 12, "timestamp_us and payload_len")
    ts, plen = _TS_LEN.unpack_from(mv, off)
    if ts >= 1 << 63:
        ts -= 1 << 64
    off += 12
    _need(mv, off, plen, "payload")
    if off + plen != len(mv):
        raise EnvelopeError(f"envelope has {len(mv) - off - plen} trailing bytes after the "
                            f"payload at offset {off + plen}")
    p = mv[off:off + plen]
    if copy:
        p = memoryview(bytes(p))
    name = TAG_NAMES[tag]
    try:
        return session, _decode_payload(name, p, ts, off)
    except (UnicodeDecodeError, ValueError) as e:
        if isinstance(e, EnvelopeError):
            raise
        raise EnvelopeError(f"{name} payload at offset {off} is malformed: {e}") from None


def _decode_payload(name, p, ts, base):
    if name == "audio":
        _need(p, 0, _AUDIO.size, "audio header")
        rate, ch, mlen = _AUDIO.unpack_from(p, 0)
        _need(p, _AUDIO.size, mlen, "audio meta")
        meta_raw = bytes(p[_AUDIO.size:_AUDIO.size + mlen]).strip()
        meta = _json.loads(meta_raw) if meta_raw else {}
        if not isinstance(meta, dict):
            raise EnvelopeError(f"audio meta at offset {base + _AUDIO.size} is not a JSON object")
        s = p[_AUDIO.size + mlen:]
        if len(s) % 4:
            raise EnvelopeError(f"audio samples are {len(s)} bytes, not a multiple of 4")
        if ch == 0:
            raise EnvelopeError("audio channels is 0")
        return RuntimeData("audio", audio=AudioData(float_view(s), rate, ch), timestamp=ts,
                           metadata=meta)
    if name == "video":
        _need(p, 0, _VIDEO.size, "video header")
        version, tag, w, h, frame = _VIDEO.unpack_from(p, 0)
        if version != VIDEO_VERSION:
            raise EnvelopeError(f"unknown video payload version {version} at offset {base} "
                                f"(this SDK reads version {VIDEO_VERSION})")
        if tag not in PIXEL_FORMAT_NAMES:
            raise EnvelopeError(f"unknown pixel format {tag} at offset {base + 1} "
                                "(1 rgb24, 2 rgba, 3 yuv420p, 4 gray)")
        if w == 0 or h == 0:
            raise EnvelopeError(f"video frame {w}x{h} at offset {base + 2} has a zero dimension")
        fmt = PIXEL_FORMAT_NAMES[tag]
        px = p[_VIDEO.size:]
        want = frame_bytes(fmt, w, h)
        if len(px) != want:
            raise EnvelopeError(f"video pixels at offset {base + _VIDEO.size} are {len(px)} "
                                f"bytes, but a {w}x{h} {fmt} frame is {want} bytes")
        return RuntimeData("video", video=VideoData(pixel_view(px, fmt, w, h), w, h, fmt, frame),
                           timestamp=ts)
    if name == "text":
        return RuntimeData("text", text=bytes(p).decode("utf-8"), timestamp=ts)
    if name == "json":
        return RuntimeData("json", json=_json.loads(bytes(p)), timestamp=ts)
    if name == "binary":
        _need(p, 0, 2, "binary mime_len")
        (ml,) = struct.unpack_from("<H", p, 0)
        _need(p, 2, ml, "binary mime")
        return RuntimeData("binary", binary=p[2 + ml:], mime_type=bytes(p[2:2 + ml]).decode(),
                           timestamp=ts)
    if name in ("tensor", "numpy"):
        _need(p, 0, 1, "tensor dtype_len")
        dl = p[0]
        _need(p, 1, dl + 1, "tensor dtype and ndim")
        dtype = bytes(p[1:1 + dl]).decode()
        nd = p[1 + dl]
        o = 2 + dl
        _need(p, o, 8 * nd, "tensor shape")
        shape = struct.unpack_from(f"<{nd}q", p, o)
        data = p[o + 8 * nd:]
        t = TensorData(shape, dtype, data)
        if has_numpy():
            try:
                t = t.to_numpy()
            except (TypeError, ValueError) as e:
                raise EnvelopeError(f"tensor dtype {dtype!r} shape {shape}: {e}") from None
        return RuntimeData(name, tensor=t, timestamp=ts)
    if name == "control":
        c = _json.loads(bytes(p)) if len(p) else {}
        if not isinstance(c, dict):
            raise EnvelopeError("control payload is not a JSON object")
        return RuntimeData("control", control={"kind": str(c.get("kind", "")),
                                               "payload": c.get("payload", {}) or {}},
                           timestamp=ts)
    if name == "end_of_stream":
        return RuntimeData("end_of_stream", timestamp=ts)
    raise EnvelopeError(f"envelope type {name} is not supported by the Python SDK")
