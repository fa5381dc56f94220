"""ctypes binding over libremotemedia_ipc.so (ipc/include/ipc/c_api.h).

The library is located by, in order: env RM_IPC_LIBRARY (a file path), a copy next to this
package (remotemedia/libremotemedia_ipc.so), the lib/ directory of the prefix this SDK is installed
in (<prefix>/share/remotemedia/python/remotemedia -> <prefix>/lib), the prefix of the `remotemedia`
program on PATH (a pip-installed SDK next to an installed runtime), /usr/local/lib, /usr/lib,
/opt/remotemedia/lib.
Loaned and received memory is exposed as writable/read-only memoryviews over the shared-memory
record itself (no copy); they are valid until send()/release() or close().
"""
from __future__ import annotations

import ctypes
import os
import shutil

OK = 0
EMPTY = 1
ERR_INVALID = -1
ERR_IO = -2
ERR_FORMAT = -3
PEER_GONE = -4
ERR_STATE = -5
ROLE_PRODUCER = 0
ROLE_CONSUMER = 1

_lib = None


class IpcError(RuntimeError):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class PeerGone(IpcError):
    pass


def library_candidates():
    out = []
    env = os.environ.get("RM_IPC_LIBRARY")
    if env:
        out.append(env)
    here = os.path.dirname(os.path.realpath(__file__))
    out.append(os.path.join(here, "libremotemedia_ipc.so"))
    prefixes = [os.path.normpath(os.path.join(here, "..", "..", "..", ".."))]
    cli = shutil.which("remotemedia")
    if cli:
        prefixes.append(os.path.dirname(os.path.dirname(os.path.realpath(cli))))
    prefixes += ["/usr/local", "/usr", "/opt/remotemedia"]
    for p in prefixes:
        cand = os.path.join(p, "lib", "libremotemedia_ipc.so")
        if cand not in out:
            out.append(cand)
    return out


def load():
    """Loads the library once; raises IpcError listing where it looked."""
    global _lib
    if _lib is not None:
        return _lib
    tried = []
    for path in library_candidates():
        if not os.path.exists(path):
            tried.append(f"{path} (missing)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
            continue
        _declare(lib)
        _lib = lib
        return lib
    raise IpcError(ERR_IO, "libremotemedia_ipc.so not found; set RM_IPC_LIBRARY to its path. "
                           "Looked at: " + "; ".join(tried))


def _declare(lib):
    P = ctypes.c_void_p
    c_int, u64 = ctypes.c_int, ctypes.c_uint64
    cp = ctypes.c_char_p
    lib.rm_ipc_channel_create.argtypes = [cp, cp, u64, c_int, ctypes.POINTER(P)]
    lib.rm_ipc_channel_open.argtypes = [cp, cp, c_int, c_int, ctypes.POINTER(P)]
    lib.rm_ipc_channel_close.argtypes = [P]
    lib.rm_ipc_channel_close.restype = None
    lib.rm_ipc_channel_unlink.argtypes = [cp, cp]
    lib.rm_ipc_loan.argtypes = [P, u64, ctypes.POINTER(P), c_int]
    lib.rm_ipc_send.argtypes = [P, u64]
    lib.rm_ipc_send_copy.argtypes = [P, ctypes.c_char_p, u64, c_int]
    lib.rm_ipc_receive.argtypes = [P, ctypes.POINTER(P), ctypes.POINTER(u64), c_int]
    lib.rm_ipc_release.argtypes = [P]
    lib.rm_ipc_heartbeat.argtypes = [P]
    lib.rm_ipc_heartbeat.restype = None
    lib.rm_ipc_peer_alive.argtypes = [P]
    lib.rm_ipc_capacity.argtypes = [P]
    lib.rm_ipc_capacity.restype = u64
    lib.rm_ipc_max_record.argtypes = [P]
    lib.rm_ipc_max_record.restype = u64
    lib.rm_ipc_last_error.argtypes = []
    lib.rm_ipc_last_error.restype = ctypes.c_char_p
    lib.rm_ipc_layout_version.argtypes = []
    lib.rm_ipc_layout_version.restype = ctypes.c_uint32


def _check(lib, rc: int, what: str) -> int:
    if rc >= 0:
        return rc
    msg = (lib.rm_ipc_last_error() or b"").decode(errors="replace")
    cls = PeerGone if rc == PEER_GONE else IpcError
    raise cls(rc, f"{what}: {msg or 'error ' + str(rc)}")


def _buf(ptr: int, size: int, writable: bool):
    arr = (ctypes.c_ubyte * size).from_address(ptr) if size else (ctypes.c_ubyte * 0)()
    mv = memoryview(arr).cast("B")
    return mv if writable else mv.toreadonly()


class Channel:
    """One end of one channel. Not thread-safe except heartbeat()/peer_alive()."""

    def __init__(self, handle, name: str, lib):
        self._h = handle
        self._lib = lib
        self.name = name

    @classmethod
    def create(cls, directory: str, name: str, capacity: int, role: int):
        lib = load()
        h = ctypes.c_void_p()
        _check(lib, lib.rm_ipc_channel_create(directory.encode(), name.encode(), capacity, role,
                                              ctypes.byref(h)), f"create channel {name}")
        return cls(h, name, lib)

    @classmethod
    def open(cls, directory: str, name: str, role: int, timeout_ms: int = 5000):
        lib = load()
        h = ctypes.c_void_p()
        _check(lib, lib.rm_ipc_channel_open(directory.encode(), name.encode(), role, timeout_ms,
                                            ctypes.byref(h)), f"open channel {name}")
        return cls(h, name, lib)

    @staticmethod
    def unlink(directory: str, name: str) -> int:
        lib = load()
        return lib.rm_ipc_channel_unlink(directory.encode(), name.encode())

    def close(self):
        if self._h is not None:
            self._lib.rm_ipc_channel_close(self._h)
            self._h = None

    def loan(self, size: int, timeout_ms: int = -1):
        """A writable memoryview of `size` bytes in the ring, or None on timeout."""
        p = ctypes.c_void_p()
        rc = _check(self._lib, self._lib.rm_ipc_loan(self._h, size, ctypes.byref(p), timeout_ms),
                    f"loan {size} bytes on {self.name}")
        if rc == EMPTY:
            return None
        return _buf(p.value, size, True)

    def send(self, size_used: int):
        _check(self._lib, self._lib.rm_ipc_send(self._h, size_used), f"send on {self.name}")

    def send_copy(self, data, timeout_ms: int = -1) -> bool:
        b = bytes(data)
        rc = _check(self._lib, self._lib.rm_ipc_send_copy(self._h, b, len(b), timeout_ms),
                    f"send {len(b)} bytes on {self.name}")
        return rc == OK

    def receive(self, timeout_ms: int = -1):
        """A read-only memoryview of the next record (valid until release()), or None."""
        p = ctypes.c_void_p()
        n = ctypes.c_uint64()
        rc = _check(self._lib, self._lib.rm_ipc_receive(self._h, ctypes.byref(p), ctypes.byref(n),
                                                        timeout_ms), f"receive on {self.name}")
        if rc == EMPTY:
            return None
        return _buf(p.value, n.value, False)

    def release(self):
        _check(self._lib, self._lib.rm_ipc_release(self._h), f"release on {self.name}")

    def heartbeat(self):
        if self._h is not None:
            self._lib.rm_ipc_heartbeat(self._h)

    def peer_alive(self) -> int:
        return self._lib.rm_ipc_peer_alive(self._h) if self._h is not None else -1

    @property
    def max_record(self) -> int:
        return self._lib.rm_ipc_max_record(self._h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def channel_names(session_id: str, node_id: str):
    """(input, output, control) channel names of a node in a session."""
    base = f"{session_id}_{node_id}"
    return base + "_input", base + "_output", base + "_control"


def default_session_dir(session_id: str) -> str:
    root = os.environ.get("RM_IPC_ROOT", "/dev/shm/remotemedia")
    return os.path.join(root, session_id)
