#!/usr/bin/env python3
"""The compose cluster profile for real (CTest label "docker"): deploy/docker/docker-compose.cluster.yml
with a 3-node NATS JetStream cluster, 3 collectors, 2 streamers splitting the rows and 2 gateways.

Images: the telemetry images tagged RM_DEPLOY_TEST_TAG (default deploy-test) that
deploy_docker_stack builds are reused when present (CTest runs this test after it); otherwise
deploy/docker/build-and-push.sh --no-push builds them. The NATS image (Debian's nats-server) is
built from deploy/docker/nats-server.Dockerfile when missing. Then, with a unique project name
and free host ports: `up -d --no-build`, both gateways ready (connected and caught up), the
streamers' two halves of the real DCGM export land, and once the streamers are stopped and the
applied stream is drained both gateways list exactly the GPUs of the file and answer
/api/v1/gpus, /api/v1/hosts and a telemetry page identically. The stack is removed with its
volumes whatever happens.

Exit 77 (skipped) when Docker is unavailable, unless RM_REQUIRE_DOCKER=1 (then it fails).
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.environ.get("RM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../..")))
sys.path.insert(0, os.path.join(ROOT, "tests/integration/deploy"))
sys.path.insert(0, os.path.join(ROOT, "tests/support"))
from deploy_stack_test import CSV_PATH, DOCKER_DIR, TAG, dcgm_gpu_ids  # noqa: E402
from docker_script import (Failure, check, free_port, http_get, image_exists, log,  # noqa: E402
                           require_docker_and_compose, run, wait_for)

TELEMETRY_IMAGES = ("telemetry-streamer", "telemetry-collector", "api-gateway")


def get_raw(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def main():
    compose = require_docker_and_compose()

    t0 = time.monotonic()
    missing = [i for i in TELEMETRY_IMAGES if not image_exists(f"{i}:{TAG}")]
    if missing:
        log(f"building {missing} (not built by deploy_docker_stack yet)")
        run(["bash", os.path.join(DOCKER_DIR, "build-and-push.sh"), "-t", TAG, "--no-push"], timeout=3600,
            capture=False)
    else:
        log(f"reusing {', '.join(f'{i}:{TAG}' for i in TELEMETRY_IMAGES)}")
    if not image_exists(f"nats-server:{TAG}"):
        run(["docker", "build", "--network", "host", "-f", os.path.join(DOCKER_DIR, "nats-server.Dockerfile"),
             "-t", f"nats-server:{TAG}", ROOT], timeout=1200, capture=False)
    images_s = time.monotonic() - t0

    expected = dcgm_gpu_ids()
    uniq = f"{os.getpid()}{int(time.time()) % 100000}"
    project = f"rmcluster{uniq}"
    p1, p2 = free_port(), free_port()
    env = dict(os.environ, COMPOSE_PROJECT_NAME=project, IMAGE_TAG=TAG, PUBLISH_ADDR="127.0.0.1",
               GATEWAY1_HOST_PORT=str(p1), GATEWAY2_HOST_PORT=str(p2), TELEMETRY_CSV=CSV_PATH,
               STREAMER_RATE="400")
    env.pop("IMAGE_REGISTRY", None)
    dc = compose + ["-p", project, "-f", os.path.join(DOCKER_DIR, "docker-compose.cluster.yml")]
    gws = [f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"]
    try:
        t = time.monotonic()
        run(dc + ["up", "-d", "--no-build"], env=env, timeout=600)
        ids = run(dc + ["ps", "-q"], env=env).stdout.split()
        check(len(ids) == 10, f"expected 10 containers (3 nats, 3 collectors, 2 streamers, 2 gateways), got {len(ids)}")

        def ready(gw):
            try:
                status, body = http_get(gw + "/ready")
                return status == 200, body
            except urllib.error.HTTPError as e:
                return False, e.read().decode()[:200]
        for gw in gws:
            wait_for(f"{gw}/ready", lambda gw=gw: ready(gw), timeout=180)
        up_s = time.monotonic() - t

        def all_gpus(gw):
            _, body = http_get(gw + "/api/v1/gpus")
            got = {g.get("id") for g in body.get("gpus", [])}
            return got == expected, f"{len(got)} of {len(expected)} GPUs"
        t = time.monotonic()
        for gw in gws:
            wait_for(f"all {len(expected)} GPUs on {gw}", lambda gw=gw: all_gpus(gw), timeout=180)
        gpus_s = time.monotonic() - t
        _, health = http_get(gws[0] + "/health")
        check(health.get("collector") == "ok" and health.get("nats", {}).get("state") == "connected",
              f"gateway /health in cluster mode: {health}")

        # Stop the streamers, wait until both gateways hold the same, unchanging data.
        run(dc + ["stop", "streamer-1", "streamer-2"], env=env, timeout=120)

        def settled():
            a = [get_raw(gw + "/api/v1/gpus") for gw in gws]
            time.sleep(1.5)
            b = [get_raw(gw + "/api/v1/gpus") for gw in gws]
            return a[0] == a[1] == b[0] == b[1], f"gateways differ or still change ({len(a[0])}, {len(a[1])} bytes)"
        wait_for("both gateways to serve the same GPUs", settled, timeout=120)
        body = json.loads(get_raw(gws[0] + "/api/v1/gpus"))
        check({g["id"] for g in body["gpus"]} == expected, "GPU set changed after the stop")
        samples = sum(g["samples"] for g in body["gpus"])
        for path in ("/api/v1/hosts", f"/api/v1/gpus/{sorted(expected)[0]}/telemetry?limit=200"):
            a, b = (get_raw(gw + path) for gw in gws)
            check(a == b, f"gateways answer {path} differently:\n{a[:300]}\n{b[:300]}")
        log(f"both gateways: {len(expected)} GPUs, {samples} samples, identical answers")
        log(f"time: images {images_s:.1f} s, up to ready {up_s:.1f} s, all GPUs {gpus_s:.1f} s")
        log("PASS")
        return 0
    except Failure as e:
        log(f"FAIL: {e}")
        p = run(dc + ["logs", "--tail", "30"], env=env, check_rc=False, quiet=True)
        log(p.stdout[-8000:])
        return 1
    finally:
        subprocess.run(dc + ["down", "-v", "--remove-orphans"], env=env, capture_output=True, timeout=300)


if __name__ == "__main__":
    sys.exit(main())
