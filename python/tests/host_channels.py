"""What the runner tests share: the repository root, the skip marker for a missing
libremotemedia_ipc.so, and the host side of one runner's three channels."""
import os
import time

import pytest

from remotemedia import envelope, ipc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    ipc.load()
    HAVE_LIB = True
except ipc.IpcError:
    HAVE_LIB = False

requires_ipc_lib = pytest.mark.skipif(not HAVE_LIB, reason="libremotemedia_ipc.so not built "
                                                           "(set RM_IPC_LIBRARY)")


class HostChannels:
    """Creates a session's input, output and control channels for node "n" under root, as the
    host does, and talks to the runner through them."""

    def __init__(self, root, session):
        self.session = session
        self.dir = str(root / session)
        names = ipc.channel_names(session, "n")
        self.inp = ipc.Channel.create(self.dir, names[0], 1 << 20, ipc.ROLE_PRODUCER)
        self.out = ipc.Channel.create(self.dir, names[1], 1 << 20, ipc.ROLE_CONSUMER)
        self.ctl = ipc.Channel.create(self.dir, names[2], 1 << 16, ipc.ROLE_PRODUCER)

    def recv(self, timeout_s=30):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            rec = self.out.receive(50)
            if rec is not None:
                try:
                    return envelope.decode(rec, copy=True)[1]
                finally:
                    self.out.release()
        raise AssertionError("no record from the runner")

    def send(self, d):
        assert self.inp.send_copy(envelope.encode(self.session, d), 5000)

    def close_channels(self):
        for ch in (self.inp, self.out, self.ctl):
            ch.close()
