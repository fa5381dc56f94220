"""Node base class, data type and registry: `from remotemedia.nodes import MultiprocessNode,
RuntimeData`."""
from ..data import AudioData, RuntimeData, TensorData  # noqa: F401
from .base import MultiprocessNode  # noqa: F401
from .registry import register  # noqa: F401

Node = MultiprocessNode
