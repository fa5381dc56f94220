"""Test nodes whose failures the host must report: they live with the examples because the
integration tests run them through the real runner."""
import asyncio
import os
import signal

from remotemedia.nodes import MultiprocessNode, RuntimeData


class CrashOnInput(MultiprocessNode):
    """Exits the process abruptly (params.exit_code, default 3) on its first input; with
    params.signal it kills itself with that signal instead."""

    async def process(self, data: RuntimeData):
        sig = self.params.get("signal")
        if sig:
            os.kill(os.getpid(), int(sig))
        os._exit(int(self.params.get("exit_code", 3)))
        yield data


class RaiseOnInput(MultiprocessNode):
    async def process(self, data: RuntimeData):
        raise ValueError(f"cannot handle {data.data_type}")
        yield data


class SlowInit(MultiprocessNode):
    """Initialises for params.seconds (default 60), reporting progress."""

    async def initialize(self):
        secs = float(self.params.get("seconds", 60))
        self.report_progress("warming up")
        await asyncio.sleep(secs)
