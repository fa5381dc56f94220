"""The resident runner server (python -m remotemedia.runner --serve) end to end: a real server
process, real unix-socket connections and real shared-memory channels; this test plays the
host. Skipped only when libremotemedia_ipc.so is not built."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from remotemedia.data import RuntimeData

from host_channels import REPO, HostChannels, requires_ipc_lib

pytestmark = requires_ipc_lib

CRASHY = '''
import os, sys
from remotemedia.nodes import MultiprocessNode, RuntimeData
class Crashy(MultiprocessNode):
    async def process(self, data):
        if data.text == "boom":
            raise ValueError("boom requested")
        if data.text == "exit":
            print("about to exit with 3", flush=True)
            print("last words on stderr", file=sys.stderr, flush=True)
            os._exit(3)
        yield RuntimeData(data_type="text", text=data.text + "!", timestamp=data.timestamp)
'''


@pytest.fixture
def server(tmp_path):
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    (nodes / "crashy.py").write_text(CRASHY)
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"),
               REMOTEMEDIA_NODE_PATH=f"{nodes}:{os.path.join(REPO, 'examples', 'python', 'nodes')}")
    proc = subprocess.Popen([sys.executable, "-m", "remotemedia.runner", "--serve", str(ctl),
                             "--preload", "Crashy"], env=env, stderr=subprocess.PIPE, text=True)
    sock = ctl / "runner.sock"
    deadline = time.time() + 30
    while not sock.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "the server did not listen within 30 s"
        time.sleep(0.01)
    yield proc, str(sock), tmp_path
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert not sock.exists(), "the server left its socket behind"


class Session(HostChannels):
    """One session's host side: channels plus a connection to the server."""

    counter = 0

    def __init__(self, sock_path, root, node_type, params=None):
        Session.counter += 1
        super().__init__(root, f"srv{os.getpid()}x{Session.counter}")
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.conn.connect(sock_path)
        self.conn.settimeout(30)
        self.buf = b""
        self.request({"op": "start", "session_id": self.session, "node_id": "n",
                      "node_type": node_type, "ipc_dir": self.dir, "params": params or {}})

    def request(self, msg):
        self.conn.sendall((json.dumps(msg) + "\n").encode())

    def event(self):
        while b"\n" not in self.buf:
            data = self.conn.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def events_until_end(self):
        got = []
        while True:
            e = self.event()
            if e is None:
                return got
            got.append(e)

    def wait_ready(self):
        while True:
            d = self.recv()
            if d.control and d.control["kind"] == "rm.ready":
                return d
            assert d.control["kind"] != "rm.error", d.control

    def close(self):
        self.close_channels()
        self.conn.close()


def test_two_sessions_are_forked_from_one_server_and_each_gets_its_own_outputs(server):
    proc, sock, root = server
    a = Session(sock, root, "Crashy")
    b = Session(sock, root, "Crashy")
    started = [a.event(), b.event()]
    assert [e["ev"] for e in started] == ["started", "started"]
    assert started[0]["pid"] != started[1]["pid"] and proc.pid not in (started[0]["pid"],
                                                                      started[1]["pid"])
    for s in (a, b):
        assert s.wait_ready().control["payload"]["pid"] != proc.pid
    a.send(RuntimeData("text", text="a"))
    b.send(RuntimeData("text", text="b"))
    assert a.recv().text == "a!" and b.recv().text == "b!"
    assert a.recv().control["kind"] == "rm.batch_end"
    assert b.recv().control["kind"] == "rm.batch_end"
    a.request({"op": "signal", "signal": 15})
    ends = a.events_until_end()
    assert ends[-1] == {"ev": "exit", "code": 0, "signal": 0}
    # b is untouched by a's end.
    b.send(RuntimeData("text", text="again"))
    assert b.recv().text == "again!"
    a.close()
    b.close()


def test_a_crashing_runner_reports_its_exit_code_and_last_lines_while_another_goes_on(server):
    _, sock, root = server
    crash = Session(sock, root, "Crashy")
    other = Session(sock, root, "Crashy")
    crash.wait_ready()
    other.wait_ready()
    crash.send(RuntimeData("text", text="boom"))
    err = crash.recv()
    assert err.control["kind"] == "rm.error"
    assert "ValueError: boom requested" in err.control["payload"]["traceback"]
    assert crash.recv().control == {"kind": "rm.batch_end", "payload": {"error": True}}
    crash.send(RuntimeData("text", text="exit"))
    events = crash.events_until_end()
    assert events[-1] == {"ev": "exit", "code": 3, "signal": 0}
    logs = [(e["fd"], e["line"]) for e in events if e["ev"] == "log"]
    assert (1, "about to exit with 3") in logs
    assert (2, "last words on stderr") in logs
    assert any("ValueError: boom requested" in line for _, line in logs)
    other.send(RuntimeData("text", text="still here"))
    assert other.recv().text == "still here!"
    crash.close()
    other.close()


def test_sigkill_through_the_server_is_reported_as_signal_9(server):
    _, sock, root = server
    s = Session(sock, root, "Crashy")
    s.wait_ready()
    s.request({"op": "signal", "signal": 9})
    assert s.events_until_end()[-1] == {"ev": "exit", "code": 137, "signal": 9}
    s.close()


def test_bad_requests_are_refused_with_a_message_naming_the_problem(server):
    _, sock, _ = server
    for payload, want in [
        (b"not json\n", "malformed message"),
        (b'{"op": "start", "node_id": "n"}\n', "session_id must be a non-empty string"),
        (b'{"op": "start", "session_id": "s", "node_id": "n", "node_type": "T", '
         b'"ipc_dir": "/x", "params": [1]}\n', "params must be a JSON object"),
        (b'{"op": "dance"}\n', "unknown op 'dance'"),
    ]:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(sock)
        c.settimeout(30)
        c.sendall(payload)
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        msg = json.loads(data.splitlines()[0])
        assert msg["ev"] == "error" and want in msg["message"], msg
        c.close()


def test_an_unknown_node_type_is_reported_over_ipc_and_the_child_exits_2(server):
    _, sock, root = server
    s = Session(sock, root, "Missing")
    err = s.recv()
    assert err.control["kind"] == "rm.error"
    assert "'Missing' not found" in err.control["payload"]["message"]
    assert s.events_until_end()[-1] == {"ev": "exit", "code": 2, "signal": 0}
    s.close()


def test_a_host_that_disconnects_gets_its_runner_stopped(server):
    _, sock, root = server
    s = Session(sock, root, "Crashy")
    pid = s.event()["pid"]
    s.wait_ready()
    s.conn.close()
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the runner outlived its host's connection")
    for ch in (s.inp, s.out, s.ctl):
        ch.close()


def test_sigterm_stops_the_server_its_runners_and_removes_the_socket(server):
    proc, sock, root = server
    s = Session(sock, root, "Crashy")
    s.wait_ready()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert s.events_until_end()[-1]["ev"] == "exit"
    assert not os.path.exists(sock)
    s.close()


def test_a_node_type_that_was_not_preloaded_is_imported_on_first_use(server):
    _, sock, root = server
    s = Session(sock, root, "AudioGain", {"gain": 3.0})
    s.wait_ready()
    s.send(RuntimeData.audio_of(__import__("numpy").ones(4, dtype="float32"), 16000, timestamp=5))
    out = s.recv()
    assert out.data_type == "audio" and list(out.audio.samples) == [3.0, 3.0, 3.0, 3.0]
    # The preloaded type still starts from the (new) spare.
    t = Session(sock, root, "Crashy")
    t.wait_ready()
    t.send(RuntimeData("text", text="t"))
    assert t.recv().text == "t!"
    s.close()
    t.close()
