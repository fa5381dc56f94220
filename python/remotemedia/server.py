"""python -m remotemedia.runner --serve DIR [--preload T]...: the resident runner server.

A shared node container (runtime/docker, RM_DOCKER_SHARE=1) runs this as its command instead of
starting a new interpreter per session. The server imports the SDK, loads libremotemedia_ipc.so
and imports the preloaded node classes once, then forks one child per session: the child is an
ordinary runner (session.run_session: attach channels, initialize(), READY, process loop,
cleanup()) that starts from an already warm interpreter, so a session starts in milliseconds.
One child is always forked ahead ("the spare": descriptors set up, event loop made) and waits
on a pipe for its session; a request hands it over and the next spare is forked after that, so
neither fork nor set-up is on the session's path. A request for a node type the server has not
imported yet imports it in the server first and forks a fresh child (later ones inherit it).

Control channel: the unix socket DIR/runner.sock. DIR is a host directory bind-mounted at the
same path in the container (inside the IPC root), so host and container name it alike. One
connection per session; every message is one line of JSON.

    host -> server   {"op": "start", "session_id": S, "node_id": N, "node_type": T,
                      "ipc_dir": D, "params": {...}}            first line, exactly once
                     {"op": "signal", "signal": 15}              later, any number
    server -> host   {"ev": "started", "pid": P}                 the child was forked
                     {"ev": "log", "fd": 1|2, "line": "..."}     each line the child printed
                     {"ev": "exit", "code": C, "signal": S}      the child ended (S: signal
                                                                 number or 0); last message
                     {"ev": "error", "message": "..."}           the request was refused; last

After "exit" or "error" the server closes the connection. A host that closes the connection
while its child runs is gone: the child gets SIGTERM (it would also notice the missing channel
heartbeat). The child's stdout and stderr are pipes read by the server, so log lines reach the
host of the session they belong to, in order, before the exit message.

The server is single threaded (fork from a threaded process is unsafe): one selector over the
listening socket, the connections, the children's pipes and a wake-up fd for signals. SIGCHLD
reaps children; SIGTERM/SIGINT stop it: SIGTERM to every child, up to 1 s for them to finish,
SIGKILL to the rest, then the socket is removed.
"""
from __future__ import annotations

import asyncio
import atexit
import errno
import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback

from . import session
from .discovery import NodeNotFound, find_node_class
from .ipc import IpcError
from .ipc import load as load_ipc_library

SOCKET_NAME = "runner.sock"
MAX_REQUEST = 1 << 20  # bytes of one request line (node params included)
STOP_WAIT_S = 1.0


def log(msg):
    # The container's log; the host logs stdout lines at info, stderr lines as warnings.
    print(f"[runner-server] {msg}", flush=True)


def warn(msg):
    print(f"[runner-server] {msg}", file=sys.stderr, flush=True)


class Session:
    """One connection: its request, its child, the child's pipes."""

    def __init__(self, conn):
        self.conn = conn
        self.inbuf = b""
        self.started = False
        self.node_id = "?"
        self.pid = 0
        self.pipes = {}  # read fd -> [stream number, partial line bytes]
        self.host_gone = False
        self.done = False


class Spare:
    """A forked child waiting for its session request on `req_w`."""

    def __init__(self, pid, req_w, out_r, err_r):
        self.pid = pid
        self.req_w = req_w
        self.out_r = out_r
        self.err_r = err_r


class Server:
    def __init__(self, control_dir, preload=()):
        self.dir = control_dir
        self.sel = selectors.DefaultSelector()
        self.sessions = {}  # connection fd -> Session
        self.children = {}  # pid -> Session
        self.stopping = False
        self.preload = list(preload)
        self.classes = {}  # node_type -> class, imported here so every child inherits it
        self.tried = set()  # node types looked up here (found or not)
        self.spare = None

    # ---- set-up ------------------------------------------------------------------------
    def warm(self):
        t0 = time.monotonic()
        try:
            load_ipc_library()
        except IpcError as e:
            warn(f"{e} (each session will report it)")
        for t in self.preload:
            self.load_class(t)
        log(f"warm in {1000 * (time.monotonic() - t0):.0f} ms "
            f"(preloaded: {', '.join(self.preload) or 'nothing'})")

    def load_class(self, node_type):
        if node_type in self.tried:
            return
        self.tried.add(node_type)
        try:
            self.classes[node_type] = find_node_class(node_type)
        except NodeNotFound:
            pass  # the child searches again and reports it to its host as usual
        except Exception as e:  # noqa: BLE001 -- a broken node module must not stop the server
            warn(f"importing node type {node_type} failed: {type(e).__name__}: {e}")

    def listen(self):
        # The directory's path may be longer than a socket address allows: bind relative to it
        # (and go back, so runners start in the container's working directory).
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            try:
                os.unlink(SOCKET_NAME)
            except FileNotFoundError:
                pass
            self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.lsock.bind(SOCKET_NAME)
        finally:
            os.chdir(cwd)
        self.lsock.listen(64)
        self.lsock.setblocking(False)
        self.sel.register(self.lsock, selectors.EVENT_READ, ("accept", None))
        self.wake_r, self.wake_w = socket.socketpair()
        for s in (self.wake_r, self.wake_w):
            s.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, ("signal", None))
        signal.set_wakeup_fd(self.wake_w.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self.on_stop_signal)
        signal.signal(signal.SIGINT, self.on_stop_signal)

    def on_stop_signal(self, *_):
        self.stopping = True

    # ---- main loop ---------------------------------------------------------------------
    def run(self):
        self.warm()
        self.listen()
        log(f"listening on {os.path.join(self.dir, SOCKET_NAME)}")
        try:
            while not self.stopping:
                for key, _ in self.sel.select(1.0):
                    what, s = key.data
                    if s is not None and (s.done if what == "conn" else key.fd not in s.pipes):
                        continue  # closed earlier in this round; its descriptor may be reused
                    if what == "accept":
                        self.accept()
                    elif what == "signal":
                        self.drain_wakeup()
                    elif what == "conn":
                        self.on_conn(s)
                    elif what == "pipe":
                        self.on_pipe(s, key.fd)
                self.reap()
                if self.spare is None and not self.stopping:
                    self.spare = self.fork_runner()
            self.shutdown()
        finally:
            try:
                os.unlink(os.path.join(self.dir, SOCKET_NAME))
            except OSError:
                pass
        return 0

    def accept(self):
        while True:
            try:
                conn, _ = self.lsock.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            s = Session(conn)
            self.sessions[conn.fileno()] = s
            self.sel.register(conn, selectors.EVENT_READ, ("conn", s))

    def drain_wakeup(self):
        try:
            while self.wake_r.recv(512):
                pass
        except BlockingIOError:
            pass

    # ---- talking to the host -----------------------------------------------------------
    def send(self, s, msg):
        if s.host_gone:
            return
        data = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
        try:
            s.conn.setblocking(True)
            s.conn.sendall(data)
        except OSError:
            self.host_left(s)
        finally:
            if not s.done:
                try:
                    s.conn.setblocking(False)
                except OSError:
                    pass

    def close_conn(self, s):
        s.done = True
        try:
            self.sel.unregister(s.conn)
        except (KeyError, ValueError):
            pass
        self.sessions.pop(s.conn.fileno(), None)
        s.conn.close()

    def host_left(self, s):
        s.host_gone = True
        if s.pid and s.pid in self.children:
            log(f"host of node {s.node_id} left; stopping its runner (pid {s.pid})")
            self.kill(s, signal.SIGTERM)
        if not s.done:
            self.close_conn(s)

    def on_conn(self, s):
        try:
            data = s.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.host_left(s)
            return
        s.inbuf += data
        while b"\n" in s.inbuf and not s.done:
            line, s.inbuf = s.inbuf.split(b"\n", 1)
            self.on_message(s, line)
        if len(s.inbuf) > MAX_REQUEST:
            self.refuse(s, f"request longer than {MAX_REQUEST} bytes")

    def refuse(self, s, message):
        warn(f"refused a request: {message}")
        self.send(s, {"ev": "error", "message": message})
        if not s.done:
            self.close_conn(s)

    def on_message(self, s, line):
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            self.refuse(s, f"malformed message: {e}")
            return
        op = msg.get("op")
        if op == "start":
            if s.started:
                self.refuse(s, "a second start on one connection")
                return
            self.start(s, msg)
        elif op == "signal":
            sig = msg.get("signal")
            if not isinstance(sig, int) or sig not in (signal.SIGTERM, signal.SIGKILL,
                                                       signal.SIGINT):
                self.refuse(s, f"signal must be 2, 9 or 15, got {sig!r}")
                return
            if s.pid and s.pid in self.children:
                self.kill(s, sig)
        else:
            self.refuse(s, f"unknown op {op!r} (expected start or signal)")

    # ---- children ----------------------------------------------------------------------
    def start(self, s, req):
        fields = {}
        for k in ("session_id", "node_id", "node_type", "ipc_dir"):
            v = req.get(k)
            if not isinstance(v, str) or not v:
                self.refuse(s, f"start: {k} must be a non-empty string")
                return
            fields[k] = v
        params = req.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self.refuse(s, f"start: params must be a JSON object, got {type(params).__name__}")
            return
        s.started = True
        s.node_id = fields["node_id"]
        if fields["node_type"] not in self.tried:
            self.load_class(fields["node_type"])
            self.retire_spare()  # forked before this import: a fresh child inherits it
        child = self.spare or self.fork_runner()
        self.spare = None
        s.pid = child.pid
        self.children[child.pid] = s
        for fd, stream in ((child.out_r, 1), (child.err_r, 2)):
            os.set_blocking(fd, False)
            s.pipes[fd] = [stream, b""]
            self.sel.register(fd, selectors.EVENT_READ, ("pipe", s))
        data = json.dumps({"fields": fields, "params": params}).encode()
        try:
            while data:
                data = data[os.write(child.req_w, data):]
        except OSError as e:
            warn(f"handing the session of node {s.node_id} to pid {child.pid} failed: {e}")
        os.close(child.req_w)
        self.send(s, {"ev": "started", "pid": child.pid})

    def retire_spare(self):
        if self.spare is None:
            return
        os.close(self.spare.req_w)  # end of file: it exits with 0 and is reaped as a stranger
        os.close(self.spare.out_r)
        os.close(self.spare.err_r)
        self.spare = None

    def fork_runner(self):
        """Forks a child that sets itself up and then waits for its session on a pipe."""
        req_r, req_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # the child's collections then leave the inherited objects (and pages) alone
        pid = os.fork()
        if pid == 0:
            os.close(req_w)
            os.close(out_r)
            os.close(err_r)
            self.child(req_r, out_w, err_w)  # never returns
        os.close(req_r)
        os.close(out_w)
        os.close(err_w)
        return Spare(pid, req_w, out_r, err_r)

    def child(self, req_r, out_w, err_w):
        code = 1
        try:
            try:
                os.setpgid(0, 0)
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                # The server's descriptors are not the child's business (closing them here
                # leaves the server's own copies open).
                self.sel.close()
                self.lsock.close()
                self.wake_r.close()
                self.wake_w.close()
                for other in list(self.sessions.values()):
                    other.conn.close()
                    for fd in other.pipes:
                        os.close(fd)
                if self.spare is not None:
                    for fd in (self.spare.req_w, self.spare.out_r, self.spare.err_r):
                        os.close(fd)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                os.close(out_w)
                os.close(err_w)
                loop = asyncio.new_event_loop()
                data = b""
                while True:
                    chunk = os.read(req_r, 1 << 16)
                    if not chunk:
                        break
                    data += chunk
                os.close(req_r)
                if not data:  # retired before it got a session
                    loop.close()
                    code = 0
                    return
                req = json.loads(data)
                fields, params = req["fields"], req["params"]
                os.environ["RM_NODE_PARAMS"] = json.dumps(params)
                args = session.session_args(fields["node_type"], fields["node_id"],
                                           fields["session_id"], fields["ipc_dir"])
                code = session.run_session(args, params, loop)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 2
            except BaseException:  # noqa: BLE001 -- the child must never return into the loop
                traceback.print_exc()
                code = 1
            try:
                atexit._run_exitfuncs()
            except BaseException:  # noqa: BLE001
                traceback.print_exc()
            for f in (sys.stdout, sys.stderr):
                try:
                    f.flush()
                except Exception:  # noqa: BLE001
                    pass
        finally:
            os._exit(code)

    def kill(self, s, sig):
        try:
            if sig == signal.SIGKILL:
                os.killpg(s.pid, sig)  # also whatever the node started
            else:
                os.kill(s.pid, sig)
        except ProcessLookupError:
            pass

    def on_pipe(self, s, fd):
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.lines(s, fd, data)
        else:
            self.close_pipe(s, fd)

    def lines(self, s, fd, data):
        entry = s.pipes[fd]
        entry[1] += data
        *complete, entry[1] = entry[1].split(b"\n")
        for line in complete:
            self.send(s, {"ev": "log", "fd": entry[0],
                          "line": line.decode("utf-8", "replace").rstrip("\r")})

    def close_pipe(self, s, fd):
        stream, rest = s.pipes.pop(fd)
        if rest:
            self.send(s, {"ev": "log", "fd": stream, "line": rest.decode("utf-8", "replace")})
        try:
            self.sel.unregister(fd)
        except (KeyError, ValueError):
            pass
        os.close(fd)

    def reap(self):
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            s = self.children.pop(pid, None)
            if s is None:
                if self.spare is not None and pid == self.spare.pid:
                    warn(f"the spare runner (pid {pid}) ended before its session: "
                         f"status {os.waitstatus_to_exitcode(status)}")
                    self.retire_spare()
                continue
            # Everything the child wrote is in its pipes now; a grandchild that still holds
            # them must not delay the exit message.
            for fd in list(s.pipes):
                while True:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    self.lines(s, fd, data)
                self.close_pipe(s, fd)
            code = os.waitstatus_to_exitcode(status)
            sig = -code if code < 0 else 0
            self.send(s, {"ev": "exit", "code": 128 + sig if sig else code, "signal": sig})
            if not s.done:
                self.close_conn(s)

    def shutdown(self):
        log(f"stopping; {len(self.children)} runner(s) still running")
        self.retire_spare()
        for s in list(self.children.values()):
            self.kill(s, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        while self.children and time.monotonic() < deadline:
            for key, _ in self.sel.select(0.05):
                what, s = key.data
                if what == "pipe" and key.fd in s.pipes:
                    self.on_pipe(s, key.fd)
                elif what == "signal":
                    self.drain_wakeup()
            self.reap()
        for s in list(self.children.values()):
            self.kill(s, signal.SIGKILL)
        while self.children:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.reap()


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m remotemedia.runner --serve",
                                 description="Resident runner server for a shared container.")
    ap.add_argument("--serve", required=True, metavar="DIR",
                    help="control directory; the server listens on DIR/runner.sock")
    ap.add_argument("--preload", action="append", default=[], metavar="NODE_TYPE",
                    help="node class to import before the first session (repeatable)")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.serve):
        print(f"runner server: control directory {args.serve} does not exist", file=sys.stderr)
        return 2
    try:
        return Server(args.serve, args.preload).run()
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES, errno.ENAMETOOLONG):
            print(f"runner server: cannot listen in {args.serve}: {e}", file=sys.stderr)
            return 2
        raise
