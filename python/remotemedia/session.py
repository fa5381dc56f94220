"""One Python node for one session over shared memory: the loop behind
`python -m remotemedia.runner` and each session of the runner server (server.py).

Protocol with the host (runtime/process, docs/python-nodes.md). The host creates the three
channels of the node in the session's IPC directory before starting the runner:
    <S>_<N>_input    host -> runner: one envelope per input (end_of_stream triggers flush)
    <S>_<N>_output   runner -> host: everything the runner says, in order:
                     control envelopes "rm.progress" {message, fraction} and "rm.ready"
                     {node_type, contract, pid} while starting; then for each input its
                     outputs followed by "rm.batch_end" {"error": bool}; "rm.error" {message,
                     traceback, phase} before the batch_end of a failed input (or instead of
                     READY when discovery/initialize fails); after an end_of_stream input the
                     flush outputs and then an end_of_stream envelope.
    <S>_<N>_control  host -> runner: control envelope "rm.stop" asks for cleanup and exit
                     (containers, where the host cannot signal the process directly).
Between inputs the host may send "rm.channels_moved" {input, output, bytes} on the input
channel when a value does not fit it: the runner opens the named larger channels (output ""
= keep the output channel), acknowledges with "rm.channels_moved" on the old output channel and
uses only the new ones from then on.
Every "rm.*" payload carries node_id. User control values never use the "rm." prefix.
"""
from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import signal
import sys
import threading
import traceback

from . import envelope
from .data import AudioData, RuntimeData, VideoData, float_view, pixel_view
from .discovery import NodeNotFound, find_node_class
from .ipc import ROLE_CONSUMER, ROLE_PRODUCER, Channel, IpcError, PeerGone, channel_names

POLL_MS = 100


def log(node_id, msg):
    print(f"[runner {node_id}] {msg}", file=sys.stderr, flush=True)


class Runtime:
    """The runner's side of one node: channels, sending outputs, loans, control messages."""

    def __init__(self, session_id, node_id, node_type, ipc_dir, open_timeout_ms):
        self.session_id = session_id
        self.node_id = node_id
        self.node_type = node_type
        names = channel_names(session_id, node_id)
        self.ipc_dir = ipc_dir
        self.open_timeout_ms = open_timeout_ms
        self._chan_lock = threading.Lock()  # the heartbeat thread vs move_channels()
        self.inp = Channel.open(ipc_dir, names[0], ROLE_CONSUMER, open_timeout_ms)
        self.out = Channel.open(ipc_dir, names[1], ROLE_PRODUCER, open_timeout_ms)
        self.ctl = Channel.open(ipc_dir, names[2], ROLE_CONSUMER, open_timeout_ms)
        self.stop = threading.Event()
        self.host_gone = threading.Event()
        self._loan = None
        self.on_stop = self.stop.set  # replaced by run() once the event loop exists
        self._hb = threading.Thread(target=self._heartbeat, name="rm-heartbeat", daemon=True)
        self._hb.start()

    def _heartbeat(self):
        # Keeps our heartbeat fresh while the node is busy (initialize may take long), notices
        # when the host died so the runner does not outlive it, and takes "rm.stop" requests.
        # This thread is the only user of the control channel.
        while not self.stop.wait(0.05):
            with self._chan_lock:
                for ch in (self.inp, self.out, self.ctl):
                    ch.heartbeat()
                alive = self.inp.peer_alive()
            if alive < 0:
                self.host_gone.set()
                self.on_stop()
                log(self.node_id, "host is gone; stopping")
                return
            try:
                rec = self.ctl.receive(0)
            except IpcError:
                continue
            if rec is not None:
                try:
                    _, d = envelope.decode(rec)
                    if d.data_type == "control" and d.control.get("kind") == "rm.stop":
                        log(self.node_id, "stop requested by the host")
                        self.on_stop()
                except envelope.EnvelopeError as e:
                    log(self.node_id, f"bad control message ignored: {e}")
                finally:
                    self.ctl.release()

    # ---- control channel --------------------------------------------------------------
    def control(self, kind, **payload):
        """Sends an "rm.*" control envelope to the host on the output channel."""
        payload.setdefault("node_id", self.node_id)
        d = RuntimeData("control", control={"kind": kind, "payload": payload})
        try:
            if self._loan is not None:
                # A failed process() may leave a loan open; reuse its space for the message.
                buf, total = self._loan._loan[0], self._loan._loan[1]
                self._loan = None
                if envelope.encoded_size(self.session_id, d) > total:
                    payload["traceback"] = "(traceback too long for the loaned buffer)"
                    payload["message"] = str(payload.get("message", ""))[:200]
                n = envelope.encode_into(buf, self.session_id, d)
                self.out.send(n)
                return
            self.out.send_copy(envelope.encode(self.session_id, d), 1000)
        except IpcError as e:
            log(self.node_id, f"could not send {kind} to the host: {e}")

    def progress(self, message, fraction=None):
        self.control("rm.progress", message=str(message), fraction=fraction)

    # ---- output channel ---------------------------------------------------------------
    def loan_audio(self, n_samples, sample_rate, channels, timestamp, metadata):
        total, off, meta = envelope.audio_layout(self.session_id, int(n_samples), metadata)
        buf = self._open_loan(total, "audio")
        d = RuntimeData("audio", audio=AudioData(float_view(buf[off:off + 4 * int(n_samples)]),
                                                 sample_rate, channels),
                        timestamp=timestamp, metadata=metadata)
        n = int(n_samples)
        d._loan = (buf, total, lambda: envelope.write_audio_prefix(
            buf, self.session_id, d.timestamp, d.audio.sample_rate, d.audio.channels, meta, n))
        self._loan = d
        return d

    def loan_video(self, width, height, pixel_format, frame_number, timestamp):
        total, off = envelope.video_layout(self.session_id, pixel_format, int(width), int(height))
        buf = self._open_loan(total, "video")
        d = RuntimeData("video", video=VideoData(
            pixel_view(buf[off:total], pixel_format, int(width), int(height)), width, height,
            pixel_format, frame_number), timestamp=timestamp)
        d._loan = (buf, total, lambda: envelope.write_video_prefix(buf, self.session_id,
                                                                   d.timestamp, d.video))
        self._loan = d
        return d

    def _open_loan(self, total, what):
        if self._loan is not None:
            raise RuntimeError(f"node {self.node_id}: loan_{what} called while a loaned buffer "
                               "is still outstanding; yield it first")
        self._check_fits(total, what)
        return self.out.loan(total, -1)

    def _check_fits(self, size, what):
        if size > self.out.max_record:
            raise ValueError(f"an output of {size} bytes ({what}) does not fit the node's output "
                             f"channel (largest value {self.out.max_record} bytes); raise "
                             f"ipc.output_bytes of node {self.node_id} in the manifest (or "
                             "RM_PROCESS_CHANNEL_BYTES for every node)")

    def send(self, d: RuntimeData):
        if not isinstance(d, RuntimeData):
            raise TypeError(f"node {self.node_id} yielded {type(d).__name__}, expected RuntimeData")
        if d._loan is not None:
            _, total, write_prefix = d._loan
            write_prefix()
            d._loan = None
            self._loan = None
            self.out.send(total)
            return
        if self._loan is not None:
            raise RuntimeError(f"node {self.node_id}: yielded another value while a loaned "
                               "buffer is outstanding; yield the loaned value first")
        size = envelope.encoded_size(self.session_id, d)
        self._check_fits(size, d.data_type)
        buf = self.out.loan(size, -1)
        n = envelope.encode_into(buf, self.session_id, d)
        self.out.send(n)

    def move_channels(self, p):
        """Handles "rm.channels_moved" (the input record is still held; released here)."""
        try:
            new_in = Channel.open(self.ipc_dir, p["input"], ROLE_CONSUMER, self.open_timeout_ms)
            new_out = Channel.open(self.ipc_dir, p["output"], ROLE_PRODUCER,
                                   self.open_timeout_ms) if p.get("output") else None
        except (IpcError, KeyError, TypeError) as e:
            self.inp.release()
            self.control("rm.error", message=f"node {self.node_id}: cannot open the grown "
                         f"channels {p!r}: {e}", phase="channels", traceback="")
            return
        self.inp.release()
        self.control("rm.channels_moved", input=p["input"], output=p.get("output") or "")
        with self._chan_lock:
            old = [self.inp] + ([self.out] if new_out is not None else [])
            self.inp = new_in
            if new_out is not None:
                self.out = new_out
        for ch in old:
            ch.close()

    def finish_loan(self):
        if self._loan is not None:
            log(self.node_id, "a loaned buffer was not yielded; sending it")
            self.send(self._loan)

    def batch_end(self, error):
        self.send(RuntimeData("control", control={"kind": "rm.batch_end",
                                                  "payload": {"error": bool(error)}}))

    def close(self):
        self.stop.set()
        self._hb.join(timeout=1)
        for ch in (self.inp, self.out, self.ctl):
            ch.close()


def build_node(cls, node_id, session_id, params):
    try:
        sig = inspect.signature(cls)
        names = set(sig.parameters)
        varkw = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    except (TypeError, ValueError):
        names, varkw = set(), True
    if varkw or {"node_id", "params"} <= names:
        node = cls(node_id=node_id, params=params)
    else:
        node = cls(**{k: v for k, v in params.items() if k in names})
    node.node_id = node_id
    if not isinstance(getattr(node, "params", None), dict) or not node.params:
        node.params = dict(params)
    node.session_id = session_id
    return node


async def iterate(result):
    """Normalises what process()/flush() returned into an async iterator of outputs."""
    if inspect.isasyncgen(result):
        async for x in result:
            yield x
        return
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return
    if inspect.isgenerator(result) or isinstance(result, (list, tuple)):
        for x in result:
            yield x
        return
    yield result


async def run(args, params):
    rt = Runtime(args.session_id, args.node_id, args.node_type, args.ipc_dir,
                 args.open_timeout_ms)
    code = 0
    node = None
    loop_ = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    phase = {"initializing": True}

    def on_stop(*_):
        # SIGTERM, SIGINT or "rm.stop": the process loop polls the flag; while initialize()
        # runs, cancel it so a slow load does not delay the exit.
        rt.stop.set()
        if phase["initializing"]:
            loop_.call_soon_threadsafe(main_task.cancel)

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    rt.on_stop = on_stop
    try:
        try:
            cls = find_node_class(args.node_type)
        except NodeNotFound as e:
            rt.control("rm.error", message=str(e), phase="discovery", traceback="")
            log(args.node_id, str(e))
            return 2
        rt.progress(f"loading {cls.__module__}.{cls.__name__}")
        try:
            node = build_node(cls, args.node_id, args.session_id, params)
            node._runtime = rt
            rt.progress("initializing")
            await node.initialize()
        except Exception as e:
            rt.control("rm.error", message=f"node {args.node_id}: initialize failed: "
                       f"{type(e).__name__}: {e}", phase="initialize",
                       traceback=traceback.format_exc())
            log(args.node_id, traceback.format_exc())
            return 1
        phase["initializing"] = False
        if rt.stop.is_set():
            return 0
        contract = getattr(node, "contract", None) or getattr(cls, "contract", None)
        rt.control("rm.ready", node_type=args.node_type, pid=os.getpid(),
                   contract=contract if isinstance(contract, dict) else None)
        code = await loop(rt, node)
        return code
    except asyncio.CancelledError:
        log(args.node_id, "stopped while initializing")
        return 0
    finally:
        phase["initializing"] = False
        if node is not None:
            try:
                await node.cleanup()
            except Exception:
                log(args.node_id, "cleanup failed:\n" + traceback.format_exc())
        rt.close()


async def loop(rt: Runtime, node) -> int:
    while not rt.stop.is_set():
        try:
            rec = rt.inp.receive(POLL_MS)
        except PeerGone:
            log(rt.node_id, "host closed the input channel; stopping")
            return 0
        if rec is None:
            continue
        error = False
        eos = False
        moved = False
        try:
            try:
                _, data = envelope.decode(rec)
                if data.data_type == "control" and data.control.get("kind") == "rm.channels_moved":
                    moved = True
                    rt.move_channels(data.control.get("payload") or {})
                    continue
                eos = data.is_end_of_stream
                gen = getattr(node, "flush", None)() if eos and hasattr(node, "flush") \
                    else (None if eos else node.process(data))
                if gen is not None:
                    async for out in iterate(gen):
                        rt.send(out)
                rt.finish_loan()
            except PeerGone:
                return 0
            except Exception as e:
                error = True
                phase = "flush" if eos else "process"
                rt.control("rm.error", message=f"node {rt.node_id}: {phase} failed: "
                           f"{type(e).__name__}: {e}", phase=phase,
                           traceback=traceback.format_exc())
                log(rt.node_id, traceback.format_exc())
        finally:
            if not moved:
                rt.inp.release()  # input views are valid only until here
        try:
            if eos and not error:
                rt.send(RuntimeData.end_of_stream())
            else:
                rt.batch_end(error)
        except PeerGone:
            return 0
    return 0


def session_args(node_type, node_id, session_id, ipc_dir, open_timeout_ms=5000):
    """The arguments parse_args() would give for one session (without parsing anything)."""
    return argparse.Namespace(node_type=node_type, node_id=node_id, session_id=session_id,
                              ipc_dir=ipc_dir, params_json=None, params_file=None,
                              open_timeout_ms=open_timeout_ms)


def run_session(args, params, loop=None) -> int:
    """Runs one node for one session to its end; returns the exit code. `loop`: an event loop
    made in advance (the runner server's spare process), used and closed here."""
    try:
        if loop is None:
            return asyncio.run(run(args, params))
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(run(args, params))
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
    except IpcError as e:
        log(args.node_id, f"shared-memory channels unavailable: {e}")
        return 2
