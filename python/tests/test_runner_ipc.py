"""The runner end to end over real shared-memory channels (libremotemedia_ipc.so): this test
plays the host. Skipped only when the library is not built."""
import os
import subprocess
import sys
import time

import numpy as np

from remotemedia.data import RuntimeData

from host_channels import REPO, HostChannels, requires_ipc_lib

pytestmark = requires_ipc_lib


class Host(HostChannels):
    def __init__(self, tmp_path, node_type, params="{}", args=()):
        super().__init__(tmp_path, f"py{os.getpid()}{int(time.time() * 1e6) % 100000}")
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"),
                   REMOTEMEDIA_NODE_PATH=os.path.join(REPO, "examples", "python", "nodes"),
                   RM_NODE_PARAMS=params)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "remotemedia.runner", "--node-type", node_type,
             "--node-id", "n", "--session-id", self.session, "--ipc-dir", self.dir, *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def close(self):
        self.proc.terminate()
        try:
            code = self.proc.wait(10)
        finally:
            self.close_channels()
        return code


def test_runner_signals_ready_and_processes_audio_with_a_loaned_output(tmp_path):
    h = Host(tmp_path, "AudioGain", '{"gain": 2.0}')
    msgs = []
    while True:
        d = h.recv()
        msgs.append(d.control["kind"])
        if d.control["kind"] == "rm.ready":
            assert d.control["payload"]["contract"]["accepts"] == ["audio"]
            break
    assert "rm.progress" in msgs
    h.send(RuntimeData.audio_of(np.arange(4, dtype=np.float32), 16000, timestamp=99))
    out = h.recv()
    assert out.data_type == "audio" and list(out.audio.samples) == [0.0, 2.0, 4.0, 6.0]
    assert out.timestamp == 99
    assert h.recv().control["kind"] == "rm.batch_end"
    assert h.close() == 0


def test_runner_reports_a_process_exception_with_traceback_then_continues(tmp_path):
    h = Host(tmp_path, "RaiseOnInput")
    while h.recv().control["kind"] != "rm.ready":
        pass
    h.send(RuntimeData("text", text="x"))
    err = h.recv()
    assert err.control["kind"] == "rm.error"
    assert err.control["payload"]["node_id"] == "n"
    assert "ValueError: cannot handle text" in err.control["payload"]["traceback"]
    end = h.recv()
    assert end.control == {"kind": "rm.batch_end", "payload": {"error": True}}
    assert h.close() == 0


def test_runner_reports_an_unknown_node_type_and_exits_2(tmp_path):
    h = Host(tmp_path, "Missing")
    err = h.recv()
    assert err.control["kind"] == "rm.error"
    assert "'Missing' not found" in err.control["payload"]["message"]
    assert h.proc.wait(30) == 2
    h.close()


def test_runner_exits_when_the_host_closes_its_channels(tmp_path):
    h = Host(tmp_path, "Echo")
    while h.recv().control["kind"] != "rm.ready":
        pass
    h.inp.close()
    assert h.proc.wait(30) == 0
    h.close()


def _moved(inp, out, size):
    return RuntimeData("control", control={"kind": "rm.channels_moved",
                                           "payload": {"input": inp, "output": out,
                                                       "bytes": size}})


def test_runner_moves_to_grown_channels_and_sends_a_full_hd_frame_back_through_them(tmp_path):
    from remotemedia import ipc
    from remotemedia.data import VideoData
    h = Host(tmp_path, "VideoInvert")
    while h.recv().control["kind"] != "rm.ready":
        pass
    big = 16 << 20
    base = ipc.channel_names(h.session, "n")
    new_in = ipc.Channel.create(h.dir, base[0] + "_g1", big, ipc.ROLE_PRODUCER)
    new_out = ipc.Channel.create(h.dir, base[1] + "_g1", big, ipc.ROLE_CONSUMER)
    h.send(_moved(base[0] + "_g1", base[1] + "_g1", big))
    ack = h.recv()  # on the old output channel
    assert ack.control["kind"] == "rm.channels_moved"
    assert ack.control["payload"]["input"] == base[0] + "_g1"
    h.inp.close()
    h.out.close()
    h.inp, h.out = new_in, new_out
    px = (np.arange(1920 * 1080 * 3, dtype=np.uint32) % 251).astype(np.uint8).reshape(1080, 1920, 3)
    h.send(RuntimeData(video=VideoData(px, 1920, 1080, "rgb24", 4), timestamp=7))
    out = h.recv()
    assert out.data_type == "video" and out.video.frame_number == 4 and out.timestamp == 7
    assert np.array_equal(out.video.pixels, 255 - px)
    assert h.recv().control["kind"] == "rm.batch_end"
    assert h.close() == 0


def test_runner_reports_grown_channels_it_cannot_open_and_keeps_the_old_ones(tmp_path):
    h = Host(tmp_path, "TextUpper", args=("--open-timeout-ms", "200"))
    while h.recv().control["kind"] != "rm.ready":
        pass
    h.send(_moved("no_such_input", "", 1 << 24))
    err = h.recv()
    assert err.control["kind"] == "rm.error" and err.control["payload"]["phase"] == "channels"
    assert "cannot open the grown channels" in err.control["payload"]["message"]
    assert "no_such_input" in err.control["payload"]["message"]
    h.send(RuntimeData("text", text="still here"))
    assert h.recv().text == "STILL HERE"
    assert h.recv().control["kind"] == "rm.batch_end"
    assert h.close() == 0
