"""Regenerates fixtures/envelopes.json: envelopes written byte by byte from the format in
docs/python-nodes.md (not with the codec), so both codecs (Python and C++) are checked against
an independent spelling of the format. Run: /usr/bin/python3 python/tests/make_fixtures.py"""
import json
import os
import struct


def env(tag, session, ts, payload):
    s = session.encode()
    return struct.pack("<BH", tag, len(s)) + s + struct.pack("<qI", ts, len(payload)) + payload


def audio(session, ts, rate, ch, samples, meta=b""):
    # meta padded with spaces so the samples start 4-aligned from the envelope start
    prefix = 3 + len(session.encode()) + 12 + 10
    if (prefix + len(meta)) % 4 and not meta:
        meta = b"{}"
    meta += b" " * ((-(prefix + len(meta))) % 4)
    p = struct.pack("<IHI", rate, ch, len(meta)) + meta + struct.pack(f"<{len(samples)}f", *samples)
    return env(1, session, ts, p)


def video(session, ts, fmt, w, h, frame, pixels, version=1):
    return env(2, session, ts, struct.pack("<BBIIQ", version, fmt, w, h, frame) + bytes(pixels))


RGB_2X2 = list(range(12))
YUV_3X3 = list(range(9 + 2 * 4))  # Y 3x3, U and V 2x2 each

cases = [
    {"name": "audio_mono", "type": "audio", "session": "s1", "timestamp_us": 20000,
     "sample_rate": 16000, "channels": 1, "samples": [0.0, 0.5, -0.5, 1.0],
     "hex": audio("s1", 20000, 16000, 1, [0.0, 0.5, -0.5, 1.0]).hex()},
    {"name": "audio_stereo_with_meta", "type": "audio", "session": "sess-abc", "timestamp_us": 7,
     "sample_rate": 48000, "channels": 2, "samples": [0.25, -0.25], "metadata": {"src": "mic"},
     "hex": audio("sess-abc", 7, 48000, 2, [0.25, -0.25], b'{"src":"mic"}').hex()},
    {"name": "text", "type": "text", "session": "s1", "timestamp_us": 5, "text": "Hello, World",
     "hex": env(3, "s1", 5, "Hello, World".encode()).hex()},
    {"name": "text_utf8", "type": "text", "session": "x", "timestamp_us": 0, "text": "grüße",
     "hex": env(3, "x", 0, "grüße".encode()).hex()},
    {"name": "json", "type": "json", "session": "s1", "timestamp_us": 9,
     "json": {"transcript": "hi"}, "hex": env(9, "s1", 9, b'{"transcript":"hi"}').hex()},
    {"name": "binary", "type": "binary", "session": "s1", "timestamp_us": 1, "mime_type": "a/b",
     "binary_hex": "00ff10", "hex": env(10, "s1", 1, struct.pack("<H", 3) + b"a/b" +
                                         bytes([0, 255, 16])).hex()},
    {"name": "tensor", "type": "tensor", "session": "s1", "timestamp_us": 3, "dtype": "int16",
     "shape": [2, 2], "values": [1, -2, 3, -4],
     "hex": env(4, "s1", 3, struct.pack("<B", 5) + b"int16" + struct.pack("<B2q", 2, 2, 2) +
                struct.pack("<4h", 1, -2, 3, -4)).hex()},
    {"name": "control", "type": "control", "session": "s1", "timestamp_us": 11,
     "kind": "speech_start", "payload": {"start_us": 11},
     "hex": env(5, "s1", 11, b'{"kind":"speech_start","payload":{"start_us":11}}').hex()},
    {"name": "end_of_stream", "type": "end_of_stream", "session": "s1", "timestamp_us": 0,
     "hex": env(8, "s1", 0, b"").hex()},
    {"name": "video_rgb24", "type": "video", "session": "s1", "timestamp_us": 33333,
     "pixel_format": "rgb24", "width": 2, "height": 2, "frame_number": 7,
     "pixels_hex": bytes(RGB_2X2).hex(), "hex": video("s1", 33333, 1, 2, 2, 7, RGB_2X2).hex()},
    {"name": "video_yuv420p_odd_size", "type": "video", "session": "s1", "timestamp_us": 0,
     "pixel_format": "yuv420p", "width": 3, "height": 3, "frame_number": 0,
     "pixels_hex": bytes(YUV_3X3).hex(), "hex": video("s1", 0, 3, 3, 3, 0, YUV_3X3).hex()},
]
bad = [
    {"name": "empty", "hex": ""},
    {"name": "truncated_session", "hex": "0305007331"},
    {"name": "payload_len_past_end", "hex": env(3, "s", 0, b"abc")[:-1].hex()},
    {"name": "trailing_bytes", "hex": (env(3, "s", 0, b"abc") + b"x").hex()},
    {"name": "unknown_tag", "hex": env(200, "s", 0, b"").hex()},
    {"name": "audio_odd_sample_bytes", "hex": env(1, "s", 0, struct.pack("<IHI", 16000, 1, 0) +
                                                   b"abc").hex()},
    {"name": "audio_meta_past_end", "hex": env(1, "s", 0, struct.pack("<IHI", 16000, 1, 99)).hex()},
    {"name": "video_unknown_version", "hex": video("s", 0, 1, 2, 2, 0, RGB_2X2, version=2).hex()},
    {"name": "video_unknown_pixel_format", "hex": video("s", 0, 9, 2, 2, 0, RGB_2X2).hex()},
    {"name": "video_pixels_short", "hex": video("s", 0, 1, 2, 2, 0, RGB_2X2[:-1]).hex()},
    {"name": "video_zero_width", "hex": video("s", 0, 4, 0, 2, 0, []).hex()},
    {"name": "video_header_truncated", "hex": env(2, "s", 0, b"\x01\x01\x02\x00").hex()},
    {"name": "tensor_shape_truncated", "hex": env(4, "s", 0, b"\x05int16\x02" + b"\0" * 8).hex()},
]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "envelopes.json")
with open(out, "w") as f:
    json.dump({"valid": cases, "invalid": bad}, f, indent=1, ensure_ascii=False)
    f.write("\n")
