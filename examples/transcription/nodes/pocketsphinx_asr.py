"""PocketSphinxASR: speech-to-text with CMU PocketSphinx and its US English model.

Written with the seed's Step 2 API. Runs inside the Docker image the transcription manifest
builds (python3-pocketsphinx + pocketsphinx-en-us from Debian's archive via
system_dependencies); it also runs as a host process where those packages are installed.

Input: speech segments from a VAD node (float32, mono, 16 kHz), either
  - streamed (SileroVAD stream_audio: true): pieces with metadata {"stream": true, "final",
    "segment_start_us"}; each piece is decoded as it arrives, so when the phrase ends only its
    last piece and the final search remain; or
  - whole: one audio value per segment, timestamped with its start, decoded at once.
Output: one text value per segment, {"transcript", "start_s", "end_s", "audio_s", "decode_ms",
"final_ms"} with the segment's start as timestamp; decode_ms is all decoding time for the
segment, final_ms the part spent after its last audio arrived.

Params (all optional): model_dir (default $POCKETSPHINX_MODEL_DIR or the Debian package's
/usr/share/pocketsphinx/model/en-us), hmm, lm, dict (paths; default: inside model_dir).
"""
import os
import sys
import time

from remotemedia.nodes import MultiprocessNode, RuntimeData

SAMPLE_RATE = 16000  # the en-us acoustic model's rate


def _import_pocketsphinx():
    """Debian's python3-pocketsphinx installs into /usr/lib/python3/dist-packages, which only
    Debian's own /usr/bin/python3 searches. An image whose python3 is another build (e.g. one
    in /usr/local) of the same minor version can still load it; anything else gets a clear
    error instead of a bare ImportError."""
    try:
        from pocketsphinx import Decoder
        return Decoder
    except ImportError as first:
        dist = "/usr/lib/python3/dist-packages"
        if os.path.isdir(os.path.join(dist, "pocketsphinx")) and dist not in sys.path:
            sys.path.append(dist)
            try:
                from pocketsphinx import Decoder
                return Decoder
            except ImportError as second:
                first = second
        raise ImportError(
            f"pocketsphinx is not importable by {sys.executable} (Python "
            f"{sys.version_info.major}.{sys.version_info.minor}): {first}. Install Debian's "
            "python3-pocketsphinx and pocketsphinx-en-us (docker.system_dependencies) into an "
            "image whose python3 is Debian's Python 3.11") from None


class PocketSphinxASR(MultiprocessNode):
    contract = {"accepts": ["audio"], "emits": ["text"],
                "description": "Speech to text with CMU PocketSphinx (US English)",
                "params": {"model_dir": {"type": "string", "default": ""},
                           "hmm": {"type": "string", "default": ""},
                           "lm": {"type": "string", "default": ""},
                           "dict": {"type": "string", "default": ""}}}

    async def initialize(self):
        Decoder = _import_pocketsphinx()
        model_dir = (self.params.get("model_dir") or os.environ.get("POCKETSPHINX_MODEL_DIR")
                     or "/usr/share/pocketsphinx/model/en-us")
        paths = {
            "-hmm": self.params.get("hmm") or os.path.join(model_dir, "en-us"),
            "-lm": self.params.get("lm") or os.path.join(model_dir, "en-us.lm.bin"),
            "-dict": self.params.get("dict") or os.path.join(model_dir, "cmudict-en-us.dict"),
        }
        missing = [f"{k[1:]}={v}" for k, v in paths.items() if not os.path.exists(v)]
        if missing:
            raise FileNotFoundError(f"node {self.node_id}: PocketSphinx model files missing: "
                                    f"{', '.join(missing)} (install pocketsphinx-en-us)")
        config = Decoder.default_config()
        for k, v in paths.items():
            config.set_string(k, v)
        config.set_string("-logfn", os.devnull)  # the decoder's own chatter is not node logs
        t = time.monotonic()
        self.decoder = Decoder(config)
        self.open = None  # streamed segment being decoded: {"start_us", "samples", "decode_s"}
        print(f"PocketSphinx en-us model loaded in {time.monotonic() - t:.2f} s", flush=True)

    async def process(self, data: RuntimeData):
        if data.data_type != "audio":
            return
        audio = data.audio
        if audio.sample_rate != SAMPLE_RATE:
            raise ValueError(f"node {self.node_id}: audio at {audio.sample_rate} Hz; the model "
                             f"needs {SAMPLE_RATE} Hz (put AudioResample before this node)")
        pcm = _to_mono_int16(audio.samples, audio.channels or 1)
        md = data.metadata or {}
        t = time.monotonic()
        if not md.get("stream"):
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, False, True)  # the whole segment is one utterance
            self.decoder.end_utt()
            took = time.monotonic() - t
            yield self._transcript(data.timestamp, len(pcm) // 2, took, took)
            return
        if self.open is None:
            self.decoder.start_utt()
            self.open = {"start_us": md.get("segment_start_us", data.timestamp),
                         "samples": 0, "decode_s": 0.0}
        seg = self.open
        if pcm:
            self.decoder.process_raw(pcm, False, False)
        seg["samples"] += len(pcm) // 2
        if md.get("final"):
            self.decoder.end_utt()
            self.open = None
            took = time.monotonic() - t
            yield self._transcript(seg["start_us"], seg["samples"], seg["decode_s"] + took, took)
        else:
            seg["decode_s"] += time.monotonic() - t

    def _transcript(self, start_us, samples, decode_s, final_s):
        hyp = self.decoder.hyp()
        audio_s = samples / SAMPLE_RATE
        start_s = start_us / 1e6
        return RuntimeData(
            data_type="text",
            text={"transcript": hyp.hypstr if hyp is not None else "",
                  "start_s": round(start_s, 3), "end_s": round(start_s + audio_s, 3),
                  "audio_s": round(audio_s, 3), "decode_ms": round(decode_s * 1000, 1),
                  "final_ms": round(final_s * 1000, 1)},
            timestamp=start_us,
        )

    async def cleanup(self):
        if getattr(self, "open", None) is not None:
            self.decoder.end_utt()  # a segment cut off by the end of the session
        self.decoder = None


def _to_mono_int16(samples, channels):
    """float32 [-1, 1] interleaved -> 16-bit little-endian mono PCM bytes."""
    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        x = np.asarray(samples, dtype=np.float32)
        if channels > 1:
            x = x.reshape(-1, channels).mean(axis=1)
        return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    import array
    vals = list(samples)
    if channels > 1:
        vals = [sum(vals[i:i + channels]) / channels for i in range(0, len(vals), channels)]
    out = array.array("h", (int(max(-1.0, min(1.0, v)) * 32767.0) for v in vals))
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()
