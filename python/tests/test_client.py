"""remotemedia.client against the real `remotemedia serve` binary (RM_CLI, else the default
build directory): skipped only when the binary is not built."""
import asyncio
import os
import socket
import subprocess
import time
import urllib.request
import wave

import numpy as np
import pytest

from remotemedia.client import StreamError, connect, stream_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("RM_CLI", os.path.join(REPO, "build", "apps", "remotemedia", "remotemedia"))

pytestmark = pytest.mark.skipif(not os.path.exists(CLI), reason=f"{CLI} is not built")

PASSTHROUGH = """version: "v1"
nodes:
  - {id: pass, node_type: PassThrough}
connections:
  - {from: audio_source, to: pass}
"""

CHUNKED = """version: "v1"
metadata:
  session_params:
    chunker.chunk_size: {minimum: 80, maximum: 1600}
nodes:
  - {id: chunker, node_type: AudioChunker, params: {chunk_size: 320}}
connections:
  - {from: audio_source, to: chunker}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "passthrough.yaml").write_text(PASSTHROUGH)
    (tmp_path / "pipelines" / "chunked.yaml").write_text(CHUNKED)
    (tmp_path / "token").write_text("tok\n")
    port = free_port()
    proc = subprocess.Popen([CLI, "serve", "--listen", f"127.0.0.1:{port}", "--pipelines",
                             str(tmp_path / "pipelines"), "--auth-token-file", str(tmp_path / "token")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/health?token=tok", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    yield url
    proc.terminate()
    assert proc.wait(10) == 0


def test_audio_sent_through_passthrough_comes_back_in_order_with_its_node_id(server):
    async def run():
        outs = []
        async with connect(server, "passthrough", token="tok") as s:
            assert s.inputs == ["audio_source"] and s.outputs == ["pass"]
            for k in range(25):
                await s.send_audio(np.full(320, k / 100, dtype=np.float32), 16000, timestamp_us=k * 20000)
            await s.send_audio(np.array([1000, -1000], dtype=np.int16), 8000, timestamp_us=500000)
            await s.end()
            async for out in s:
                outs.append(out)
            assert s.done == {"type": "done", "frames_in": 26, "frames_out": 26}
        return outs

    outs = asyncio.run(run())
    assert len(outs) == 26
    assert all(o.node == "pass" and o.data.data_type == "audio" for o in outs)
    assert [o.data.timestamp for o in outs[:25]] == [k * 20000 for k in range(25)]
    assert [float(o.data.audio.samples[0]) for o in outs[:25]] == pytest.approx([k / 100 for k in range(25)])
    s16 = outs[25].data.audio
    assert s16.sample_rate == 8000
    assert list(s16.samples) == pytest.approx([1000 / 32768, -1000 / 32768])


def test_stream_file_yields_every_chunk_of_a_wav_file(server, tmp_path):
    path = tmp_path / "tone.wav"
    pcm = (np.sin(np.arange(16000) * 0.05) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())

    async def run():
        return [o async for o in stream_file(server, "passthrough", str(path), token="tok")]

    outs = asyncio.run(run())
    assert len(outs) == 50  # one second in 20 ms chunks
    got = np.concatenate([np.asarray(o.data.audio.samples) for o in outs])
    assert np.allclose(got, pcm.astype(np.float32) / 32768.0)


def test_refusals_and_unknown_pipelines_raise_stream_error_with_the_code(server):
    async def run():
        with pytest.raises(StreamError) as no_token:
            await connect(server, "passthrough")
        assert no_token.value.status == 401
        with pytest.raises(StreamError) as unknown:
            await connect(server, "nope", token="tok")
        assert unknown.value.close_code == 4404
        assert str(unknown.value) == "unknown pipeline 'nope'; served: chunked, passthrough"

    asyncio.run(run())


def test_session_params_reach_the_node_and_a_refused_one_raises_naming_it(server):
    async def run():
        async with connect(server, "chunked", token="tok", params={"chunker.chunk_size": 160}) as s:
            assert s.ready["params"] == {"chunker.chunk_size": 160}
            for k in range(5):
                await s.send_audio(np.zeros(320, dtype=np.float32), 16000, timestamp_us=k * 20000)
            await s.end()
            sizes = [len(o.data.audio.samples) async for o in s]
        with pytest.raises(StreamError) as refused:
            await connect(server, "chunked", token="tok", params={"chunker.chunk_size": 20})
        return sizes, refused.value

    sizes, refused = asyncio.run(run())
    assert sizes == [160] * 10
    assert refused.close_code == 4422
    assert refused.param == "chunker.chunk_size"
    assert refused.node == "chunker"
    assert str(refused) == "session param 'chunker.chunk_size' = 20 is below the minimum 80"
