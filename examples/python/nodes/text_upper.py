"""TextUpper: upper-cases text; emits nothing for empty text (zero outputs is allowed)."""
from remotemedia.nodes import MultiprocessNode, RuntimeData


class TextUpper(MultiprocessNode):
    async def process(self, data: RuntimeData):
        if data.data_type == "text":
            if data.text:
                yield RuntimeData(data_type="text", text=data.text.upper(),
                                  timestamp=data.timestamp)
        else:
            yield data
