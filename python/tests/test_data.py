import numpy as np
import pytest

from remotemedia.nodes import MultiprocessNode, RuntimeData
from remotemedia.data import AudioData, TensorData


def test_runtime_data_infers_the_type_from_the_field_given():
    assert RuntimeData(text="hi").data_type == "text"
    assert RuntimeData(audio=AudioData([0.0], 16000)).data_type == "audio"
    assert RuntimeData(json={"a": 1}).data_type == "json"
    assert RuntimeData(binary=b"x").data_type == "binary"
    assert RuntimeData(numpy=np.zeros(2)).data_type == "numpy"
    assert RuntimeData().data_type == "end_of_stream"


def test_unknown_data_type_is_rejected_with_the_allowed_names():
    with pytest.raises(ValueError, match="unknown data_type 'sound'.*audio"):
        RuntimeData(data_type="sound")


def test_typed_value_without_its_field_is_rejected_naming_the_field():
    with pytest.raises(ValueError, match="needs audio="):
        RuntimeData(data_type="audio")


def test_audio_accepts_dict_and_tuple_spellings():
    a = RuntimeData("audio", audio={"samples": [0.5, 0.25], "sample_rate": 8000, "channels": 2})
    assert a.audio.sample_rate == 8000 and a.audio.channels == 2 and a.audio.frames == 1
    b = RuntimeData("audio", audio=(np.ones(4, np.float32), 16000))
    assert b.audio.samples.dtype == np.float32 and b.audio.frames == 4


def test_as_text_reads_the_transcript_of_a_dict_text():
    assert RuntimeData("text", text={"transcript": "hello"}).as_text() == "hello"
    assert RuntimeData("text", text="plain").as_text() == "plain"


def test_tensor_data_converts_to_numpy_without_copying():
    raw = bytearray(np.arange(6, dtype=np.int16).tobytes())
    t = TensorData((2, 3), "int16", raw)
    arr = t.to_numpy()
    assert arr.shape == (2, 3) and arr[1, 2] == 5
    raw[0] = 9
    assert arr[0, 0] == 9


def test_loan_audio_outside_the_runner_gives_a_writable_buffer():
    n = MultiprocessNode(node_id="n1", params={"gain": 2})
    d = n.loan_audio(160, 16000, 1)
    d.audio.samples[:] = 1.5
    assert d.data_type == "audio" and float(d.audio.samples.sum()) == 240.0
    assert n.params == {"gain": 2} and n.node_id == "n1"


def test_loan_video_outside_the_runner_gives_a_writable_frame_shaped_like_a_received_one():
    from remotemedia.data import VideoData
    n = MultiprocessNode(node_id="v")
    d = n.loan_video(4, 2, "rgba", frame_number=3, timestamp=99)
    assert d.data_type == "video" and d.video.pixels.shape == (2, 4, 4)
    d.video.pixels[:] = 7
    assert bytes(d.video.pixel_bytes()) == b"\x07" * 32
    assert (d.video.frame_number, d.timestamp) == (3, 99)
    assert RuntimeData(video=VideoData(bytes(6), 3, 2, "gray")).data_type == "video"
    assert repr(d) == "RuntimeData(video, VideoData(4x2 rgba, frame 3), t=99us)"


def test_a_video_value_without_a_frame_is_rejected():
    with pytest.raises(ValueError, match="needs video="):
        RuntimeData("video")
