"""Shared pieces of the Python test scripts that drive Docker and compose for real.

Imported by tests/integration/deploy/deploy_stack_test.py, cluster/compose_cluster_test.py and
server/stream_image_test.py: the timestamped log, skip-or-fail (a test that would skip fails
under RM_REQUIRE_DOCKER=1, as CI sets it), one command runner, HTTP polling and the checks that
Docker, compose and the local base image are there.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.environ.get("RM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")))
SKIP = 77  # CTest's SKIP_RETURN_CODE for these scripts
T0 = time.monotonic()


class Failure(Exception):
    pass


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def skip_or_fail(reason):
    if os.environ.get("RM_REQUIRE_DOCKER") == "1":
        log(f"FAIL (RM_REQUIRE_DOCKER=1): {reason}")
        sys.exit(1)
    log(f"SKIP: {reason}")
    sys.exit(SKIP)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run(cmd, *, env=None, timeout=600, check_rc=True, capture=True, cwd=None, quiet=False):
    """Runs cmd (logged); stdout and stderr together in .stdout; Failure on a non-zero exit."""
    if not quiet:
        log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, env=env, timeout=timeout, cwd=cwd, text=True,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.STDOUT if capture else None)
    if check_rc and p.returncode != 0:
        raise Failure(f"command failed ({p.returncode}): {' '.join(cmd)}\n{(p.stdout or '')[-4000:]}")
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, parsed JSON body)."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, json.loads(r.read().decode())


def wait_for(what, fn, timeout=180, interval=1.0):
    """Calls fn() -> (ok, detail) until ok; Failure naming `what` and the last detail on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            ok, last = fn()
            if ok:
                return last
        except (OSError, urllib.error.URLError, ValueError, subprocess.SubprocessError) as e:
            last = repr(e)
        time.sleep(interval)
    raise Failure(f"timed out after {timeout}s waiting for {what}; last: {last}")


def compose_command():
    """`docker compose` (plugin) or `docker-compose` (Debian's 1.29); RM_COMPOSE overrides."""
    forced = os.environ.get("RM_COMPOSE")
    if forced:
        return forced.split()
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def image_exists(ref):
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0


def require_docker_and_compose():
    """Skips (or fails under CI) without the docker CLI, a daemon or compose; makes sure the local
    debian:bookworm-slim base image exists (built by scripts/base-images.sh, no registry).
    Returns the compose command."""
    if not shutil.which("docker"):
        skip_or_fail("the docker CLI is not installed")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        skip_or_fail("the Docker daemon does not answer (scripts/docker-up.sh starts one)")
    compose = compose_command()
    if not compose:
        skip_or_fail("neither 'docker compose' nor 'docker-compose' is installed (apt-get install docker-compose)")
    if not image_exists("debian:bookworm-slim"):
        log("debian:bookworm-slim missing: building it locally (scripts/base-images.sh)")
        env = dict(os.environ, RM_BASE_IMAGES="debian:bookworm-slim")
        run(["bash", os.path.join(ROOT, "scripts/base-images.sh")], env=env, timeout=1800, capture=False)
    return compose
