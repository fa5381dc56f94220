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
    def __init__(self, tmp_path, node_type, params="{}"):
        super().__init__(tmp_path, f"py{os.getpid()}{int(time.time() * 1e6) % 100000}")
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"),
                   REMOTEMEDIA_NODE_PATH=os.path.join(REPO, "examples", "python", "nodes"),
                   RM_NODE_PARAMS=params)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "remotemedia.runner", "--node-type", node_type,
             "--node-id", "n", "--session-id", self.session, "--ipc-dir", self.dir],
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
