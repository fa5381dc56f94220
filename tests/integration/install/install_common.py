"""Shared pieces of the install tests (tests/integration/install): installing the build tree into
a prefix, test audio, checking the audio-gain pipeline's outputs, running containers."""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
import wave

ROOT = os.path.abspath(os.environ.get("RM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../..")))
BUILD = os.path.abspath(os.environ.get("RM_BINARY_DIR", os.path.join(ROOT, "build")))
DOCKER = shutil.which("docker") or "/usr/bin/docker"
SKIP = 77
T0 = time.monotonic()

# The pipeline run in every install test: PassThrough (C++) -> AudioGain 0.5 (Python host
# process, examples/python/nodes) -> PassThrough (C++).
PIPELINE_REL = "share/remotemedia/examples/python/audio_gain_pipeline.yaml"
NODES_REL = "share/remotemedia/examples/python/nodes"
RATE = 16000
FRAMES = 16000  # 1 s
AMPLITUDE = 0.8
GAIN = 0.5


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def fail(msg):
    log("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def run(cmd, timeout=600, **kw):
    """Runs a command; fails the test with its output when it exits non-zero."""
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        fail(f"{cmd[0]} exited {p.returncode}\nstdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-6000:]}")
    return p


def install(prefix):
    """cmake --install of the build tree (stripped, as a package would be); returns seconds."""
    t = time.monotonic()
    run(["cmake", "--install", BUILD, "--prefix", prefix, "--strip"])
    return time.monotonic() - t


def du_mb(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total / 1e6


def write_sine(path):
    """1 s of a 440 Hz sine at AMPLITUDE, 16 kHz mono 16-bit."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(struct.pack("<h", round(32767 * AMPLITUDE * math.sin(2 * math.pi * 440 * i / RATE)))
                               for i in range(FRAMES)))


def read_pcm16(path):
    with wave.open(path, "rb") as w:
        check(w.getsampwidth() == 2, f"{path}: not 16-bit PCM")
        n = w.getnframes()
        return w.getframerate(), w.getnchannels(), list(struct.unpack(f"<{n * w.getnchannels()}h", w.readframes(n)))


def check_gain_outputs(work, jsonl_name="out.jsonl", outdir_name="out"):
    """The outputs of the audio-gain pipeline: every frame came out of native_out, halved."""
    lines = [json.loads(line) for line in open(os.path.join(work, jsonl_name)) if line.strip()]
    audio = [r for r in lines if r.get("type") == "audio"]
    check(audio, f"no audio outputs in {jsonl_name}: {lines[:3]}")
    check({r["node"] for r in audio} == {"native_out"}, f"outputs from {sorted({r['node'] for r in audio})}")
    frames = sum(r["audio"]["frames"] for r in audio)
    check(frames == FRAMES, f"{frames} frames came out, {FRAMES} went in")
    _, _, src = read_pcm16(os.path.join(work, "in.wav"))
    got = []
    for r in audio:
        # audio.file is the path the CLI wrote; take its name inside our output directory.
        rate, ch, s = read_pcm16(os.path.join(work, outdir_name, os.path.basename(r["audio"]["file"])))
        check(rate == RATE and ch == 1, f"output {r['audio']['file']}: {rate} Hz, {ch} channels")
        got += s
    check(len(got) == FRAMES, f"{len(got)} samples in the output files")
    worst = max(abs(g - s * GAIN) for g, s in zip(got, src))
    # Input 16-bit -> float -> x0.5 -> 16-bit: at most one step of rounding.
    check(worst <= 1.0, f"output differs from input x {GAIN} by up to {worst} LSB")
    peak = max(abs(v) for v in got) / 32767
    log(f"outputs ok: {len(audio)} chunks, {frames} frames, peak {peak:.3f} (input {AMPLITUDE}), max error {worst} LSB")


def docker_available():
    if not os.path.exists(DOCKER):
        return False
    return subprocess.run([DOCKER, "info"], capture_output=True, timeout=30).returncode == 0


def require_docker():
    if docker_available():
        return
    if os.environ.get("RM_REQUIRE_DOCKER") == "1":
        fail("Docker is not available (RM_REQUIRE_DOCKER=1); run scripts/docker-up.sh")
    log("SKIP: Docker is not available (run scripts/docker-up.sh)")
    sys.exit(SKIP)


def image_exists(ref):
    return subprocess.run([DOCKER, "image", "inspect", ref], capture_output=True).returncode == 0


def apt_cache_mounts():
    """Host directories for the container's apt lists and downloaded .debs, so repeated runs do
    not download Debian's indexes and packages again. /var/cache/remotemedia is where
    scripts/base-images.sh keeps its caches."""
    base = os.environ.get("RM_BASE_CACHE", "/var/cache/remotemedia")
    lists, archives = os.path.join(base, "apt-bookworm/lists"), os.path.join(base, "apt-bookworm/archives")
    try:
        os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
        os.makedirs(os.path.join(archives, "partial"), exist_ok=True)
    except OSError:
        return []
    return ["-v", f"{lists}:/var/lib/apt/lists", "-v", f"{archives}:/var/cache/apt/archives"]


# Shell prologue for a container: keep downloaded packages, install with cached indexes, refresh
# them only when an install fails (a point release replaced a version).
APT_INSTALL = r"""
rm -f /etc/apt/apt.conf.d/docker-clean
export DEBIAN_FRONTEND=noninteractive
apt_install() {
  if [ -n "$(ls /var/lib/apt/lists/*Packages* 2>/dev/null)" ] &&
     apt-get install -y -q --no-install-recommends -o APT::Keep-Downloaded-Packages=true "$@" >/tmp/apt.log 2>&1; then
    return 0
  fi
  apt-get update -q >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; return 1; }
  apt-get install -y -q --no-install-recommends -o APT::Keep-Downloaded-Packages=true "$@" >/tmp/apt.log 2>&1 ||
    { cat /tmp/apt.log; return 1; }
}
"""
