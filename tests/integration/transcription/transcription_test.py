#!/usr/bin/env python3
"""The transcription demo pipeline for real (CTest label "docker"): examples/transcription/
pipeline.yaml (AudioResample and SileroVAD in C++, PocketSphinxASR in a Docker container built
from the manifest, SimpleTextCleanup as a host Python process) on the five LibriVox clips of
pocketsphinx-testdata joined with 0.8 s pauses (scripts/librivox-speech.sh).

Checks:
  - one transcript per spoken phrase: exactly one segment inside each clip's time window;
  - word error rate against the reference transcripts within MAX_WER (see docs/transcription.md);
  - the transcripts went through the cleanup node (lowercase, trimmed);
  - the run leaves no containers of its own and no IPC files;
  - a second run reuses the image the first one built or found.

Exit 77 (skipped) when Docker is unavailable, unless RM_REQUIRE_DOCKER=1 (then it fails).
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.abspath(os.environ.get("RM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../..")))
CLI = os.environ.get("RM_CLI", os.path.join(ROOT, "build/apps/remotemedia/remotemedia"))
# The library the host Python loads: RM_IPC_LIBRARY when the caller sets one (scripts/test.sh
# points it at a build without sanitizers), else the one built next to the CLI.
IPC_LIB = (os.environ.get("RM_IPC_LIBRARY") or os.environ.get("RM_IPC_LIBRARY_BUILT")
           or os.path.join(ROOT, "build/ipc/libremotemedia_ipc.so"))
MANIFEST = os.path.join(ROOT, "examples/transcription/pipeline.yaml")
CLIPS = "/usr/share/pocketsphinx/test/data/librivox"
PAUSE_S = 0.8  # scripts/librivox-speech.sh
SOCKET = os.environ.get("RM_DOCKER_SOCKET", "/var/run/docker.sock")
# Measured 0.28 on these clips (PocketSphinx 5prealpha with its generic en-us model; the package's
# own reference decode, test-lm.match, scores about the same; docs/transcription.md). The bound
# leaves room for VAD padding differences.
MAX_WER = 0.35
# Spelling variants scored as the same word (standard WER text normalisation).
NORMALISE = {"mr": "mister", "mrs": "missus", "dr": "doctor"}
SKIP = 77
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def fail(msg):
    log("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def docker_get(path):
    c = UnixHTTPConnection(SOCKET)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {r.status} {body[:200]!r}")
    return json.loads(body)


def containers_owned_by(pid):
    filters = json.dumps({"label": [f"remotemedia.owner={pid}"]})
    return docker_get("/containers/json?all=1&filters=" + urllib.parse.quote(filters))


def docker_available():
    try:
        docker_get("/_ping") if False else docker_get("/version")
        return True
    except Exception as e:  # noqa: BLE001 - any failure means "no daemon"
        log(f"docker not reachable at {SOCKET}: {e}")
        return False


def words(s):
    return [NORMALISE.get(w, w) for w in s.lower().split() if w]


def edit_distance(ref, hyp):
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def references():
    """[(clip file, reference words)] in clip order, from the package's transcription file."""
    refs = {}
    with open(os.path.join(CLIPS, "transcription")) as f:
        for line in f:
            text, _, fid = line.strip().rpartition("(")
            fid = fid.rstrip(")").strip()
            refs[fid] = [w for w in words(text) if w not in ("<s>", "</s>")]
    clips = sorted(n for n in os.listdir(CLIPS) if n.endswith(".wav"))
    return [(c, refs[c[:-4]]) for c in clips]


def clip_windows(clips):
    """Each clip's [start, end] in seconds of the joined audio."""
    out, t = [], 0.0
    for c in clips:
        d = float(subprocess.check_output(["soxi", "-D", os.path.join(CLIPS, c)], text=True))
        out.append((t, t + d))
        t += d + PAUSE_S
    return out


def run_pipeline(audio, ipc_dir):
    env = dict(os.environ)
    env.update({
        "REMOTEMEDIA_NODE_PATH": os.path.join(ROOT, "examples/transcription/nodes"),
        "RM_IPC_LIBRARY": IPC_LIB,
        "RM_PYTHON_SDK_DIR": os.path.join(ROOT, "python"),
        "REMOTEMEDIA_PYTHON": "/usr/bin/python3",
        "RM_IPC_DIR": ipc_dir,
    })
    proc = subprocess.Popen([CLI, "run", MANIFEST, "--input", "audio_source=" + audio],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        fail("pipeline did not finish in 900 s; stderr tail:\n" + err[-3000:])
    if proc.returncode != 0:
        fail(f"remotemedia run exited {proc.returncode}; stderr tail:\n{err[-3000:]}")
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    return proc.pid, records, err


def main():
    if not docker_available():
        if os.environ.get("RM_REQUIRE_DOCKER") == "1":
            fail("RM_REQUIRE_DOCKER=1 and no Docker daemon (run scripts/docker-up.sh)")
        log("SKIP: no Docker daemon")
        sys.exit(SKIP)
    check(os.access(CLI, os.X_OK), f"CLI {CLI} not built")
    refs = references()
    windows = clip_windows([c for c, _ in refs])
    with tempfile.TemporaryDirectory(prefix="rm-transcription-") as tmp:
        audio = os.path.join(tmp, "librivox-speech.wav")
        subprocess.run(["bash", os.path.join(ROOT, "scripts/librivox-speech.sh"), audio], check=True)
        ipc_dir = os.path.join(tmp, "ipc")
        os.makedirs(ipc_dir)

        for attempt in (1, 2):
            log(f"run {attempt}: {MANIFEST}")
            t = time.monotonic()
            pid, records, err = run_pipeline(audio, ipc_dir)
            log(f"run {attempt}: {len(records)} outputs in {time.monotonic() - t:.1f} s")
            check("container" in err and "remotemedia/node:" in err,
                  "the ASR node did not start in a container; stderr tail:\n" + err[-2000:])
            if attempt == 2:
                check("reusing image remotemedia/node:" in err,
                      "the second run did not reuse the image; stderr tail:\n" + err[-2000:])

            # Nothing left behind: no container of this run, no IPC files.
            left = containers_owned_by(pid)
            check(not left, f"containers left behind: {[c.get('Names') for c in left]}")
            leftovers = [os.path.join(d, f) for d, _, fs in os.walk(ipc_dir) for f in fs]
            check(not leftovers, f"IPC files left behind: {leftovers[:5]}")

            transcripts = [r for r in records if r["node"] == "cleanup"]
            check(len(transcripts) == len(records),
                  f"outputs from nodes other than cleanup: {[r['node'] for r in records]}")
            for r in transcripts:
                check(r["type"] == "json" and "transcript" in r["json"], f"not a transcript: {r}")
                text = r["json"]["transcript"]
                check(text == text.lower().strip(), f"cleanup did not run on {text!r}")

            # One segment per spoken phrase: every clip window holds exactly one segment.
            segs = [(r["json"]["start_s"], r["json"]["end_s"], r["json"]["transcript"]) for r in transcripts]
            for i, (ws, we) in enumerate(windows):
                inside = [s for s in segs if s[0] < we and s[1] > ws]
                check(len(inside) == 1,
                      f"clip {i + 1} ({ws:.2f}-{we:.2f} s): {len(inside)} segments {inside}; all: {segs}")
                s = inside[0]
                check(s[0] >= ws - 0.5 and s[1] <= we + 0.5,
                      f"clip {i + 1} ({ws:.2f}-{we:.2f} s): segment {s[0]:.2f}-{s[1]:.2f} s strays")
            check(len(segs) == len(windows), f"{len(segs)} segments for {len(windows)} phrases: {segs}")

            ref_words = sum((w for _, w in refs), [])
            hyp_words = sum((words(s[2]) for s in segs), [])
            errors = edit_distance(ref_words, hyp_words)
            wer = errors / len(ref_words)
            for (_, ref), s in zip(refs, segs):
                log(f"  [{s[0]:6.2f}-{s[1]:6.2f} s] {s[2]!r}  (ref: {' '.join(ref)!r})")
            log(f"run {attempt}: WER {wer:.3f} ({errors} errors / {len(ref_words)} words), bound {MAX_WER}")
            check(wer <= MAX_WER, f"word error rate {wer:.3f} above {MAX_WER}")
    log("PASS")


if __name__ == "__main__":
    main()
