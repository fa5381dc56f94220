"""Client of the streaming server (`remotemedia serve`, docs/streaming.md), on asyncio and
Debian's python3-websockets.

    async with connect("ws://127.0.0.1:8090", "transcription") as s:
        await s.send_audio(samples, 16000)
        await s.end()
        async for out in s:
            print(out.node, out.data.text)

    async for out in stream_file(url, "transcription", "speech.wav", realtime=True):
        ...

Binary frames are IPC envelopes (remotemedia.envelope, the same codec as the C++ side); the
envelope's session field names the stream: the input on the way in, the output node on the way
out. Control messages are JSON text frames.
"""
from __future__ import annotations

import asyncio
import json
import time
import wave
from dataclasses import dataclass
from typing import AsyncIterator, Optional

import websockets

from . import envelope
from .data import RuntimeData, has_numpy

PROTOCOL_VERSION = 1
STREAM_PATH = "/v1/stream"


class StreamError(RuntimeError):
    """The server refused or ended the session: `close_code` and `node` say why; `param` names
    the session param it refused (close code 4422)."""

    def __init__(self, message: str, close_code: int = 0, status: int = 0, node: str = "",
                 code: str = "", param: str = ""):
        super().__init__(message)
        self.close_code = close_code
        self.status = status
        self.node = node
        self.code = code
        self.param = param


@dataclass
class Output:
    node: str          # the output node that produced it
    data: RuntimeData


def _ws_url(url: str) -> str:
    if url.startswith("http://"):
        url = "ws://" + url[len("http://"):]
    elif url.startswith("https://"):
        url = "wss://" + url[len("https://"):]
    if not url.startswith(("ws://", "wss://")):
        raise ValueError(f"URL {url!r} must start with http://, https://, ws:// or wss://")
    host = url.split("://", 1)[1]
    if "/" in host:
        return url
    return url + STREAM_PATH


class Session:
    """One streaming session (one WebSocket). Use `connect()`."""

    def __init__(self, ws, ready: dict, progress: list):
        self._ws = ws
        self.ready = ready
        self.progress = progress
        self.session_id = ready.get("session", "")
        self.inputs = ready.get("inputs", [])
        self.outputs = ready.get("outputs", [])
        self.done: Optional[dict] = None

    async def send(self, data: RuntimeData, input: str = "") -> None:
        await self._ws.send(envelope.encode(input, data))

    async def send_audio(self, samples, sample_rate: int, channels: int = 1, timestamp_us: int = 0,
                         input: str = "") -> None:
        """float32 samples in [-1, 1] (numpy array, list), or int16 (numpy array or bytes of
        little-endian s16 PCM, sent as audio/pcm;format=s16le and converted by the server)."""
        if isinstance(samples, (bytes, bytearray)) or (
                has_numpy() and getattr(samples, "dtype", None) is not None and str(samples.dtype) == "int16"):
            raw = bytes(samples) if isinstance(samples, (bytes, bytearray)) else samples.astype("<i2").tobytes()
            mime = f"audio/pcm;format=s16le;rate={sample_rate};channels={channels}"
            d = RuntimeData("binary", binary=raw, mime_type=mime, timestamp=timestamp_us)
        else:
            d = RuntimeData.audio_of(samples, sample_rate, channels, timestamp=timestamp_us)
        await self.send(d, input)

    async def send_text(self, text: str, input: str = "") -> None:
        await self.send(RuntimeData("text", text=text), input)

    async def end(self, input: str = "") -> None:
        """End-of-stream on `input`, or on every input."""
        msg = {"type": "end"}
        if input:
            msg["input"] = input
        await self._ws.send(json.dumps(msg))

    async def close(self) -> None:
        await self._ws.close()

    def __aiter__(self):
        return self

    async def __anext__(self) -> Output:
        """The next output. Ends after `done` and a normal close; raises StreamError when the
        session failed (node error, protocol violation, timeout)."""
        error = None
        while True:
            try:
                frame = await self._ws.recv()
            except websockets.ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd else 1006
                reason = e.rcvd.reason if e.rcvd else "connection lost"
                if code == 1000:
                    raise StopAsyncIteration from None
                if error:
                    raise StreamError(error.get("message", reason), code, node=error.get("node", ""),
                                      code=error.get("code", "")) from None
                raise StreamError(reason, code) from None
            if isinstance(frame, str):
                msg = json.loads(frame)
                if msg.get("type") == "error":
                    error = msg
                elif msg.get("type") == "done":
                    self.done = msg
                continue
            node, data = envelope.decode(frame, copy=True)
            return Output(node, data)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self._ws.close()


class _Connector:
    def __init__(self, url, pipeline, token, session_id, on_progress, max_size, params):
        self._args = (url, pipeline, token, session_id, on_progress, max_size, params)
        self._session: Optional[Session] = None

    def __await__(self):
        return self._open().__await__()

    async def _open(self) -> Session:
        url, pipeline, token, session_id, on_progress, max_size, params = self._args
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            ws = await websockets.connect(_ws_url(url), extra_headers=headers, max_size=max_size,
                                          compression=None)
        except websockets.InvalidStatusCode as e:
            raise StreamError(f"the server refused the session: HTTP {e.status_code}",
                              status=e.status_code) from None
        start = {"type": "start", "version": PROTOCOL_VERSION, "pipeline": pipeline}
        if session_id:
            start["session"] = session_id
        if params:
            start["params"] = dict(params)
        await ws.send(json.dumps(start))
        progress, error = [], None
        while True:
            try:
                frame = await ws.recv()
            except websockets.ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd else 1006
                reason = (error or {}).get("message") or (e.rcvd.reason if e.rcvd else "connection lost")
                raise StreamError(reason, code, node=(error or {}).get("node", ""),
                                  code=(error or {}).get("code", ""),
                                  param=(error or {}).get("param", "")) from None
            if not isinstance(frame, str):
                continue
            msg = json.loads(frame)
            if msg.get("type") == "ready":
                self._session = Session(ws, msg, progress)
                return self._session
            if msg.get("type") == "progress":
                progress.append(msg)
                if on_progress:
                    on_progress(msg)
            elif msg.get("type") == "error":
                error = msg

    async def __aenter__(self) -> Session:
        return await self._open()

    async def __aexit__(self, *exc):
        if self._session:
            await self._session._ws.close()


def connect(url: str, pipeline: str, token: str = "", session_id: str = "", on_progress=None,
            max_size: int = 64 << 20, params: Optional[dict] = None) -> _Connector:
    """Opens a session and waits until every node is up (the ready message). Use as
    `async with connect(...) as s:` or `s = await connect(...)`. `params`: per-session node
    params the pipeline allows, {"node.param": value} (GET /v1/pipelines lists them); a refused
    one raises StreamError with close_code 4422 and `param` naming it."""
    return _Connector(url, pipeline, token, session_id, on_progress, max_size, params)


def read_audio(path: str):
    """(float32 samples interleaved, sample_rate, channels) of a WAV file (16-bit or float), or
    of a FLAC file when python3-soundfile is installed."""
    if path.lower().endswith(".flac"):
        try:
            import soundfile  # Debian: python3-soundfile
        except ImportError:
            raise ValueError(f"{path}: reading FLAC needs python3-soundfile") from None
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
        return data.reshape(-1), rate, data.shape[1]
    import numpy as np
    with wave.open(path, "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"{path}: only 16-bit PCM WAV is read here (sample width {width})")
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0, rate, channels


async def stream_file(url: str, pipeline: str, path: str, realtime: bool = False, input: str = "",
                      chunk_ms: int = 20, token: str = "",
                      params: Optional[dict] = None) -> AsyncIterator[Output]:
    """Streams an audio file in `chunk_ms` chunks (at the pace of the audio with realtime=True,
    else as fast as the server takes it) and yields every output as it arrives."""
    samples, rate, channels = read_audio(path)
    frames = len(samples) // channels
    chunk = max(1, rate * chunk_ms // 1000)
    async with connect(url, pipeline, token=token, params=params) as s:
        async def sender():
            t0 = time.monotonic()
            for pos in range(0, frames, chunk):
                ts = pos * 1_000_000 // rate
                if realtime:
                    delay = t0 + ts / 1e6 - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await s.send_audio(samples[pos * channels:(pos + chunk) * channels], rate, channels,
                                   timestamp_us=ts, input=input)
            await s.end(input)

        task = asyncio.create_task(sender())
        try:
            async for out in s:
                yield out
            await task
        finally:
            if not task.done():
                task.cancel()
