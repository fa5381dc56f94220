#!/usr/bin/env python3
"""The telemetry stack in Docker, for real (CTest label "docker").

Builds the three images with deploy/docker/build-and-push.sh and pushes them to a local
registry (Debian's docker-registry on a free 127.0.0.1 port), brings the stack up with
deploy/docker/setup.sh -d --limits (what `make docker-deploy` runs: `up -d --build` with the
limits file; unique project name, container prefix and free host ports), checks the limits,
waits for every health check, streams the real DCGM export and checks the gateway lists every
GPU of that file, checks uid 1000 and the read-only data mount, restarts the collector and then
recreates the collector and gateway containers without the streamer to prove the data lives in
the named volume, and finally removes the stack with its volume.

Exit 77 (skipped) when Docker is unavailable, unless RM_REQUIRE_DOCKER=1 (then it fails).
"""
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.environ.get("RM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../..")))
sys.path.insert(0, os.path.join(ROOT, "tests/support"))
from docker_script import (Failure, check, free_port, http_get, log,  # noqa: E402
                           require_docker_and_compose, run, skip_or_fail, wait_for)

DOCKER_DIR = os.path.join(ROOT, "deploy/docker")
CSV_PATH = os.path.join(ROOT, "tests/data/dcgm_metrics_20250718_134233.csv")
TAG = os.environ.get("RM_DEPLOY_TEST_TAG", "deploy-test")


def dcgm_gpu_ids():
    with open(CSV_PATH, newline="") as f:
        return {row["uuid"] for row in csv.DictReader(f) if row.get("uuid")}


def main():
    compose = require_docker_and_compose()
    registry_bin = shutil.which("docker-registry") or shutil.which("registry")
    if not registry_bin:
        skip_or_fail("no registry binary (apt-get install docker-registry)")

    expected_ids = dcgm_gpu_ids()
    check(len(expected_ids) > 0, f"no GPU uuids in {CSV_PATH}")
    log(f"{CSV_PATH}: {len(expected_ids)} distinct GPU uuids")

    uniq = f"{os.getpid()}{int(time.time()) % 100000}"
    project = f"rmdeploy{uniq}"
    prefix = f"rmdeploy{uniq}-"
    ports = {k: free_port() for k in ("COLLECTOR_HEALTH_HOST_PORT", "COLLECTOR_BROKER_HOST_PORT",
                                      "COLLECTOR_METRICS_HOST_PORT", "GATEWAY_HOST_PORT",
                                      "GATEWAY_METRICS_HOST_PORT")}
    tmp = tempfile.mkdtemp(prefix="rm-deploy-test-")
    registry_port = free_port()
    registry = None
    env = dict(os.environ, COMPOSE_PROJECT_NAME=project, CONTAINER_PREFIX=prefix, IMAGE_TAG=TAG,
               PUBLISH_ADDR="127.0.0.1", TELEMETRY_CSV=CSV_PATH, STREAMER_RATE="100",
               **{k: str(v) for k, v in ports.items()})
    env.pop("IMAGE_REGISTRY", None)
    dc = compose + ["-p", project, "-f", os.path.join(DOCKER_DIR, "docker-compose.yml")]
    cname = {s: prefix + s for s in ("telemetry-collector", "telemetry-streamer", "api-gateway")}
    gw = f"http://127.0.0.1:{ports['GATEWAY_HOST_PORT']}"
    col = f"http://127.0.0.1:{ports['COLLECTOR_HEALTH_HOST_PORT']}"
    timings = {}
    try:
        # --- local registry + build-and-push.sh -t -p -------------------------------------
        cfg = os.path.join(tmp, "registry.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {tmp}/registry\nhttp:\n  addr: 127.0.0.1:{registry_port}\n")
        registry = subprocess.Popen([registry_bin, "serve", cfg], stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(tmp, "registry.log"), "w"))
        wait_for("the registry", lambda: (urllib.request.urlopen(
            f"http://127.0.0.1:{registry_port}/v2/", timeout=2).status == 200, None), timeout=30)
        t = time.monotonic()
        run(["bash", os.path.join(DOCKER_DIR, "build-and-push.sh"), "-t", TAG, "-p", str(registry_port)],
            timeout=3600, capture=False)
        timings["build-and-push"] = time.monotonic() - t
        _, catalog = http_get(f"http://127.0.0.1:{registry_port}/v2/_catalog")
        log(f"registry catalog: {catalog}")
        for image in cname:
            check(image in catalog.get("repositories", []), f"{image} not pushed: catalog {catalog}")
            _, tags = http_get(f"http://127.0.0.1:{registry_port}/v2/{image}/tags/list")
            check(TAG in (tags.get("tags") or []), f"{image}:{TAG} not in the registry: {tags}")
        sizes = run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"]).stdout
        for line in sizes.splitlines():
            if line.split(" ")[0] in {f"{i}:{TAG}" for i in cname}:
                log(f"image size: {line}")

        # --- setup.sh -d --limits (= make docker-deploy: compose up -d --build with the
        # limits file, then waits for health), then the health checks ourselves -----------
        t = time.monotonic()
        run(["bash", os.path.join(DOCKER_DIR, "setup.sh"), "-d", "--limits"], env=env, timeout=1800, capture=False)

        def healthy(c):
            out = run(["docker", "inspect", "-f",
                       "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", c], quiet=True).stdout.strip()
            if out.startswith(("exited", "dead")):
                raise Failure(f"{c} stopped: {out}\n" + run(["docker", "logs", c], check_rc=False).stdout)
            return out == "running healthy", out
        for c in cname.values():
            wait_for(f"{c} to be healthy", lambda c=c: healthy(c), timeout=180)
        timings["compose up to healthy"] = time.monotonic() - t
        limits = run(["docker", "inspect", "-f", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}",
                      cname["telemetry-collector"]]).stdout.split()
        check(limits == ["500000000", str(1 << 30)],
              f"collector limits {limits}, docker-compose.limits.yml says cpus 0.5, mem_limit 1g")
        status, health = http_get(gw + "/health")
        check(status == 200 and health.get("collector") == "ok", f"gateway /health: {health}")
        status, chealth = http_get(col + "/health")
        check(status == 200 and chealth.get("ready") is True, f"collector /health: {chealth}")

        # --- the real GPUs through the API ------------------------------------------------
        def all_gpus():
            _, body = http_get(gw + "/api/v1/gpus")
            ids = {g.get("id") for g in body.get("gpus", [])}
            return ids == expected_ids, f"count={body.get('count')}"
        t = time.monotonic()
        wait_for(f"all {len(expected_ids)} GPUs in /api/v1/gpus", all_gpus, timeout=180)
        timings["all GPUs visible"] = time.monotonic() - t
        some = sorted(expected_ids)[0]
        status, tel = http_get(gw + f"/api/v1/gpus/{some}/telemetry")
        check(status == 200, f"/api/v1/gpus/{some}/telemetry answered {status}")
        log(f"/api/v1/gpus: {len(expected_ids)} GPUs; telemetry of {some}: {str(tel)[:160]}")

        # --- non-root, read-only data mount ------------------------------------------------
        for c in cname.values():
            st = run(["docker", "exec", c, "cat", "/proc/1/status"]).stdout
            uid = next(line.split()[1:3] for line in st.splitlines() if line.startswith("Uid:"))
            gid = next(line.split()[1:3] for line in st.splitlines() if line.startswith("Gid:"))
            check(uid == ["1000", "1000"] and gid == ["1000", "1000"], f"{c}: PID 1 runs as uid {uid} gid {gid}")
        log("every container's PID 1 runs as uid 1000 gid 1000")
        p = run(["docker", "exec", cname["api-gateway"], "touch", "/data/should-not-exist"], check_rc=False)
        check(p.returncode != 0 and "Read-only" in p.stdout, f"the gateway could write DATA_DIR: {p.stdout}")

        # --- durability: restart, then recreate without the streamer ----------------------
        run(dc + ["stop", "telemetry-streamer"], env=env)
        _, before = http_get(col + "/stats")
        check(before.get("gpus") == len(expected_ids), f"collector /stats before restart: {before}")
        run(["docker", "restart", cname["telemetry-collector"]])
        wait_for("the restarted collector", lambda: healthy(cname["telemetry-collector"]), timeout=120)
        _, after = http_get(col + "/stats")
        log(f"collector after restart: gpus={after.get('gpus')} recovery={after.get('recovery')}")
        check(after.get("gpus") == len(expected_ids), f"GPUs lost across a collector restart: {after}")

        run(dc + ["rm", "-s", "-f", "telemetry-collector", "api-gateway"], env=env)
        # Only the collector and the gateway: nothing can re-stream the data.
        run(dc + ["up", "-d", "--no-build", "telemetry-collector", "api-gateway"], env=env, timeout=600)
        for s in ("telemetry-collector", "api-gateway"):
            wait_for(f"recreated {s}", lambda s=s: healthy(cname[s]), timeout=120)
        st = run(["docker", "inspect", "-f", "{{.State.Status}}", cname["telemetry-streamer"]], check_rc=False).stdout.strip()
        check(st != "running", f"the streamer runs again ({st}); the durability check would prove nothing")
        _, rec = http_get(col + "/stats")
        check(rec.get("gpus") == len(expected_ids), f"GPUs lost when the collector was recreated: {rec}")
        check((rec.get("recovery") or {}).get("records_replayed", 0) > 0 or
              (rec.get("recovery") or {}).get("checkpoint") is not None,
              f"the recreated collector recovered nothing from the volume: {rec.get('recovery')}")
        wait_for("the recreated gateway to list every GPU", all_gpus, timeout=60)
        log("data survived a collector restart and recreated containers (named volume)")

        # --- down with the volume ---------------------------------------------------------
        run(dc + ["down", "-v", "--remove-orphans"], env=env, timeout=300)
        vols = run(["docker", "volume", "ls", "-q", "--filter", f"name={project}_"]).stdout.split()
        check(not vols, f"volumes left after down -v: {vols}")
        for k, v in timings.items():
            log(f"time: {k}: {v:.1f} s")
        log("PASS")
        return 0
    except Failure as e:
        log(f"FAIL: {e}")
        for c in cname.values():
            p = run(["docker", "logs", "--tail", "40", c], check_rc=False)
            log(f"--- logs of {c} ---\n{p.stdout}")
        return 1
    finally:
        subprocess.run(dc + ["down", "-v", "--remove-orphans"], env=env, capture_output=True, timeout=300)
        for image in (*cname, "nats-server"):  # build-and-push.sh pushes the NATS image too
            subprocess.run(["docker", "rmi", f"localhost:{registry_port}/{image}:{TAG}"], capture_output=True)
        if registry:
            registry.terminate()
            try:
                registry.wait(timeout=10)
            except subprocess.TimeoutExpired:
                registry.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
