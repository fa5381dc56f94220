"""RemoteMedia Python SDK: write pipeline nodes that run as host processes or in containers.

Public entry points:
    from remotemedia.nodes import MultiprocessNode, RuntimeData
    python -m remotemedia.runner --node-type T --node-id N --session-id S

Pure Python (3.9+) plus ctypes over libremotemedia_ipc.so; numpy is used when importable.
"""
from .data import AudioData, RuntimeData, TensorData  # noqa: F401

__version__ = "0.1.0"
