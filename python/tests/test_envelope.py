import json
import os

import numpy as np
import pytest

from remotemedia import envelope
from remotemedia.data import RuntimeData, TensorData

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
