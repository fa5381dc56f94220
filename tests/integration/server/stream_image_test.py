#!/usr/bin/env python3
"""The streaming server's image and compose service for real (CTest label "docker").

Builds deploy/docker/stream-server.Dockerfile on the local base image (debian:bookworm-slim
from scripts/base-images.sh; no registry), unless an image of the same deploy definition is
cached: the tag is a hash of the Dockerfile, the compose file and .dockerignore, so CI builds
it once per change of those and otherwise starts in seconds (RM_STREAM_IMAGE_REBUILD=1 forces
a build, e.g. after server changes). Then `docker-compose -f docker-compose.stream.yml up -d`
with a unique project name and a free host port (the service mounts the docker socket and
/dev/shm), waits for /health, streams a WAV file through the native `passthrough` pipeline
with `remotemedia stream` from the host and checks every chunk came back, checks both mounts
and the health check, and `docker-compose down` removes what it started. SIGTERM drains:
the container must exit 0.

Exit 77 (skipped) when Docker is unavailable, unless RM_REQUIRE_DOCKER=1 (then it fails).
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.environ.get("RM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../..")))
sys.path.insert(0, os.path.join(ROOT, "tests/support"))
from docker_script import Failure, free_port, image_exists, log, require_docker_and_compose, run  # noqa: E402

CLI = os.environ.get("RM_CLI", os.path.join(ROOT, "build/apps/remotemedia/remotemedia"))
DOCKER_DIR = os.path.join(ROOT, "deploy/docker")
DOCKERFILE = os.path.join(DOCKER_DIR, "stream-server.Dockerfile")
COMPOSE_FILE = os.path.join(DOCKER_DIR, "docker-compose.stream.yml")


def definition_hash():
    h = hashlib.sha256()
    for f in (DOCKERFILE, COMPOSE_FILE, os.path.join(ROOT, ".dockerignore")):
        with open(f, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:12]


def write_tone(path, seconds=2, rate=16000):
    import math
    import struct
    import wave
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 0.05))) for i in range(seconds * rate)))


def main():
    compose = require_docker_and_compose()
    if not os.path.exists(CLI):
        raise Failure(f"{CLI} is not built")

    tag = f"def-{definition_hash()}"
    image = f"remotemedia/stream-server:{tag}"
    if image_exists(image) and os.environ.get("RM_STREAM_IMAGE_REBUILD") != "1":
        log(f"{image} is cached: reused")
    else:
        t = time.monotonic()
        run(["docker", "build", "--network", "host", "-f", DOCKERFILE, "-t", image, ROOT], timeout=3600)
        log(f"built {image} in {time.monotonic() - t:.0f} s")

    project = f"rmstream{os.getpid()}{int(time.time()) % 100000}"
    port = free_port()
    env = dict(os.environ, IMAGE_TAG=tag, STREAM_HOST_PORT=str(port), PUBLISH_ADDR="127.0.0.1")
    env.pop("IMAGE_REGISTRY", None)
    dc = compose + ["-p", project, "-f", COMPOSE_FILE]
    tmp = tempfile.mkdtemp(prefix="rm-stream-image-")
    failure = None
    try:
        run(dc + ["up", "-d", "--no-build"], env=env, timeout=300)
        cid = run(dc + ["ps", "-q", "stream-server"], env=env).stdout.strip()
        if not cid:
            raise Failure("compose started no stream-server container")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    health = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.5)
        if not health or health.get("status") != "ok":
            raise Failure(f"no /health from the container on {url}: {health}\n"
                                 + run(dc + ["logs"], env=env, check_rc=False).stdout[-3000:])
        with urllib.request.urlopen(url + "/v1/pipelines", timeout=5) as r:
            names = [p["name"] for p in json.loads(r.read())["pipelines"]]
        if "passthrough" not in names or "transcription" not in names:
            raise Failure(f"the image serves {names}, expected passthrough and transcription")
        mounts = json.loads(run(["docker", "inspect", cid]).stdout)[0]["Mounts"]
        dests = {m["Destination"]: m["Source"] for m in mounts}
        if dests.get("/var/run/docker.sock") != "/var/run/docker.sock" or dests.get("/dev/shm") != "/dev/shm":
            raise Failure(f"mounts: {dests}")

        wav = os.path.join(tmp, "tone.wav")
        write_tone(wav)
        out = os.path.join(tmp, "out.jsonl")
        run([CLI, "stream", url, "passthrough", "--input", wav, "--output", out], timeout=120)
        with open(out) as f:
            recs = [json.loads(line) for line in f]
        if len(recs) != 100 or any(r["node"] != "echo" or r["type"] != "audio" for r in recs):
            raise Failure(f"{len(recs)} outputs (expected 100 echoed 20 ms chunks): {recs[:2]}")
        if [r["timestamp_us"] for r in recs] != [k * 20000 for k in range(100)]:
            raise Failure("outputs out of order")
        log("100 chunks of 20 ms streamed through the container and back, in order")

        # Health check of the image (HEALTHCHECK) turns healthy; SIGTERM drains and exits 0.
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline and state != "healthy":
            state = run(["docker", "inspect", "-f", "{{.State.Health.Status}}", cid]).stdout.strip()
            if state != "healthy":
                time.sleep(1)
        if state != "healthy":
            raise Failure(f"container health: {state}")
        run(["docker", "stop", "-t", "40", cid], timeout=60)
        code = run(["docker", "inspect", "-f", "{{.State.ExitCode}}", cid]).stdout.strip()
        if code != "0":
            raise Failure(f"the server exited {code} on SIGTERM")
        log("healthy; SIGTERM: drained and exited 0")
    except Exception as e:  # noqa: BLE001 - reported below, then cleaned up
        failure = e
    finally:
        run(dc + ["down", "--remove-orphans", "--timeout", "10"], env=env, check_rc=False, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)
    if failure:
        log(f"FAIL: {failure}")
        sys.exit(1)
    log("ok")


if __name__ == "__main__":
    main()
