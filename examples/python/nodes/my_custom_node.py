# The seed's Step 2 node, with the class exactly as written there. The seed leaves
# load_my_model() to the reader; here it is a tiny real "model" (an energy meter) so the node
# runs end to end: it reports the RMS level of each chunk as its "transcript".
from remotemedia.nodes import MultiprocessNode, RuntimeData
import asyncio
import math


class _EnergyModel:
    async def process_audio(self, samples):
        n = len(samples)
        rms = math.sqrt(sum(float(x) * float(x) for x in samples) / n) if n else 0.0
        return f"{n} samples, rms {rms:.3f}"


def load_my_model():
    return _EnergyModel()


class MyCustomNode(MultiprocessNode):
    """
    Custom Python node that runs in Docker container.
    Uses iceoryx2 IPC for zero-copy data transfer with host runtime.
    """

    async def initialize(self):
        """Called once when container starts"""
        print(f"Initializing MyCustomNode in container")
        # Load models, initialize resources, etc.
        self.model = load_my_model()

    async def process(self, data: RuntimeData):
        """
        Process incoming data and yield results.
        This is called for each audio chunk from the host runtime.
        """
        if data.data_type == "audio":
            # Process audio
            result = await self.model.process_audio(data.audio.samples)

            # Yield results (can yield multiple outputs)
            yield RuntimeData(
                data_type="text",
                text={"transcript": result},
                timestamp=data.timestamp
            )

    async def cleanup(self):
        """Called when container stops"""
        print("Cleaning up MyCustomNode")
