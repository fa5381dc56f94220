import json
import os

import numpy as np
import pytest

from remotemedia import envelope
from remotemedia.data import RuntimeData, TensorData, VideoData

FIX = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "envelopes.json")))


def value_of(case):
    t = case["type"]
    ts = case["timestamp_us"]
    if t == "audio":
        return RuntimeData("audio", audio=(np.array(case["samples"], np.float32),
                                           case["sample_rate"], case["channels"]),
                           timestamp=ts, metadata=case.get("metadata"))
    if t == "text":
        return RuntimeData("text", text=case["text"], timestamp=ts)
    if t == "json":
        return RuntimeData("json", json=case["json"], timestamp=ts)
    if t == "binary":
        return RuntimeData("binary", binary=bytes.fromhex(case["binary_hex"]),
                           mime_type=case["mime_type"], timestamp=ts)
    if t == "tensor":
        return RuntimeData("tensor", tensor=np.array(case["values"], dtype=case["dtype"])
                           .reshape(case["shape"]), timestamp=ts)
    if t == "control":
        return RuntimeData("control", control={"kind": case["kind"], "payload": case["payload"]},
                           timestamp=ts)
    if t == "video":
        return RuntimeData("video", video=VideoData(bytes.fromhex(case["pixels_hex"]), case["width"],
                                                    case["height"], case["pixel_format"],
                                                    case["frame_number"]), timestamp=ts)
    return RuntimeData.end_of_stream(ts)


@pytest.mark.parametrize("case", FIX["valid"], ids=[c["name"] for c in FIX["valid"]])
def test_encoder_writes_exactly_the_fixture_bytes(case):
    assert envelope.encode(case["session"], value_of(case)).hex() == case["hex"]


@pytest.mark.parametrize("case", FIX["valid"], ids=[c["name"] for c in FIX["valid"]])
def test_decoder_reads_the_fixture_back(case):
    session, d = envelope.decode(bytes.fromhex(case["hex"]))
    assert session == case["session"]
    assert d.data_type == case["type"]
    assert d.timestamp == case["timestamp_us"]
    if d.data_type == "audio":
        assert list(d.audio.samples) == case["samples"]
        assert (d.audio.sample_rate, d.audio.channels) == (case["sample_rate"], case["channels"])
        assert d.metadata == case.get("metadata", {})
    elif d.data_type == "text":
        assert d.text == case["text"]
    elif d.data_type == "json":
        assert d.json == case["json"]
    elif d.data_type == "binary":
        assert bytes(d.binary).hex() == case["binary_hex"] and d.mime_type == case["mime_type"]
    elif d.data_type == "tensor":
        assert d.tensor.shape == tuple(case["shape"]) and d.tensor.flatten().tolist() == case["values"]
    elif d.data_type == "control":
        assert d.control == {"kind": case["kind"], "payload": case["payload"]}
    elif d.data_type == "video":
        v = d.video
        assert (v.width, v.height, v.pixel_format, v.frame_number) == \
            (case["width"], case["height"], case["pixel_format"], case["frame_number"])
        assert bytes(v.pixel_bytes()).hex() == case["pixels_hex"]


@pytest.mark.parametrize("case", FIX["invalid"], ids=[c["name"] for c in FIX["invalid"]])
def test_decoder_rejects_malformed_input_with_an_error(case):
    with pytest.raises(envelope.EnvelopeError):
        envelope.decode(bytes.fromhex(case["hex"]))


def test_every_truncation_of_a_valid_envelope_is_rejected():
    for case in FIX["valid"]:
        raw = bytes.fromhex(case["hex"])
        for cut in range(len(raw)):
            with pytest.raises(envelope.EnvelopeError):
                envelope.decode(raw[:cut])


def test_decoded_audio_is_a_zero_copy_view_of_the_record():
    raw = bytearray(envelope.encode("s", RuntimeData.audio_of(np.zeros(8, np.float32))))
    _, d = envelope.decode(memoryview(raw))
    _, off, _ = envelope.audio_layout("s", 8)
    raw[off:off + 4] = np.float32(3.0).tobytes()
    assert d.audio.samples[0] == 3.0


def test_audio_samples_start_four_byte_aligned_for_any_session_length():
    for n in range(1, 12):
        sid = "x" * n
        meta = {"k": "v"} if n % 2 else None
        total, off, _ = envelope.audio_layout(sid, 3, meta)
        assert off % 4 == 0
        d = RuntimeData.audio_of(np.zeros(3, np.float32), metadata=meta)
        assert len(envelope.encode(sid, d)) == total


def test_dict_text_travels_as_a_json_value():
    _, d = envelope.decode(envelope.encode("s", RuntimeData("text", text={"transcript": "x"})))
    assert d.data_type == "json" and d.json == {"transcript": "x"}


def test_tensor_without_numpy_spelling_round_trips():
    t = TensorData((3,), "uint8", b"\x01\x02\x03")
    _, d = envelope.decode(envelope.encode("s", RuntimeData("numpy", tensor=t)))
    assert d.data_type == "numpy" and d.tensor.tolist() == [1, 2, 3]


def _frame(w=1920, h=1080):
    return np.arange(w * h * 3, dtype=np.uint32).astype(np.uint8).reshape(h, w, 3)


def test_a_1080p_rgb_frame_decodes_to_a_zero_copy_read_only_numpy_view_shaped_h_w_3():
    px = _frame()
    raw = bytearray(envelope.encode("sess", RuntimeData("video", video=VideoData(px, 1920, 1080,
                                                                               "rgb24", 5),
                                                        timestamp=166666)))
    total, off = envelope.video_layout("sess", "rgb24", 1920, 1080)
    assert len(raw) == total == off + 6220800
    _, d = envelope.decode(memoryview(raw).toreadonly())
    v = d.video
    assert isinstance(v.pixels, np.ndarray) and v.pixels.shape == (1080, 1920, 3)
    assert v.pixels.dtype == np.uint8 and not v.pixels.flags.writeable
    assert (v.frame_number, d.timestamp) == (5, 166666)
    assert np.array_equal(v.pixels, px)
    raw[off] ^= 0xFF  # the view is the record itself, not a copy
    assert v.pixels[0, 0, 0] == px[0, 0, 0] ^ 0xFF


@pytest.mark.parametrize("fmt,shape", [("rgba", (3, 4, 4)), ("gray", (3, 4)), ("yuv420p", (20,))])
def test_every_pixel_format_round_trips_with_its_numpy_shape(fmt, shape):
    n = int(np.prod(shape))
    v = VideoData(np.arange(n, dtype=np.uint8).reshape(shape), 4, 3, fmt, 9)
    _, d = envelope.decode(envelope.encode("s", RuntimeData(video=v)))
    assert d.data_type == "video" and d.video.pixels.shape == shape
    assert d.video.pixels.tobytes() == bytes(range(n))


def test_a_frame_whose_pixels_do_not_match_its_size_is_rejected_naming_both_sizes():
    with pytest.raises(ValueError, match="11 bytes of pixels, but a 2x2 rgb24 frame is 12 bytes"):
        VideoData(bytes(11), 2, 2, "rgb24")
    with pytest.raises(ValueError, match="unknown pixel_format 'bgr24'"):
        VideoData(bytes(12), 2, 2, "bgr24")
    with pytest.raises(ValueError, match="zero or negative dimension"):
        VideoData(b"", 0, 2, "gray")


@pytest.mark.parametrize("patch,message", [
    ((0, 2), "unknown video payload version 2"),
    ((1, 9), "unknown pixel format 9"),
])
def test_a_malformed_video_head_is_rejected_with_a_clear_error(patch, message):
    raw = bytearray(envelope.encode("s", RuntimeData(video=VideoData(bytes(12), 2, 2))))
    raw[envelope.header_size("s") + patch[0]] = patch[1]
    with pytest.raises(envelope.EnvelopeError, match=message):
        envelope.decode(bytes(raw))
