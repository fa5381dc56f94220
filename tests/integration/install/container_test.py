#!/usr/bin/env python3
"""The runtime outside this checkout, in Debian 12 containers (CTest label "docker"):

  container_test.py prefix
    `cmake --install` into a temporary prefix, moved to another path; a bookworm container with
    only that prefix (read-only, at yet another path) and a work directory mounted, plus the
    Debian packages of the shared libraries the programs link (found with ldd + dpkg -S, cached
    as an image), runs the audio-gain pipeline: native + Python host-process nodes, outputs
    checked sample by sample. The source and build trees do not exist in the container.

  container_test.py deb
    `cpack -G DEB` (size and time logged); a clean debian:bookworm-slim container installs the
    .deb with apt (dependencies from Debian's archive), `remotemedia doctor` passes every check
    (the host's Docker socket is mounted for the Docker checks), and the pipeline runs from
    /usr/share/remotemedia/examples with outputs checked.

Exit 77 (skipped) when Docker is unavailable, unless RM_REQUIRE_DOCKER=1 (then it fails).
"""
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from install_common import (APT_INSTALL, BUILD, ROOT, DOCKER, NODES_REL, PIPELINE_REL, apt_cache_mounts, check,  # noqa: E402
                            check_gain_outputs, du_mb, fail, image_exists, install, log, require_docker, run,
                            write_sine)

BASE = "debian:bookworm-slim"
SANITIZER_ENV = ["-e", "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1", "-e", "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"]


def runtime_packages(prefix):
    """Debian packages owning the shared libraries of the installed programs, plus python3."""
    libs = set()
    for exe in glob.glob(os.path.join(prefix, "bin/*")) + [os.path.join(prefix, "lib/libremotemedia_ipc.so")]:
        for line in run(["ldd", exe]).stdout.splitlines():
            parts = line.split("=>")
            if len(parts) == 2 and parts[1].strip().startswith("/"):
                lib = os.path.realpath(parts[1].split()[0])
                check(not lib.startswith(prefix), f"{exe} loads {lib} from the prefix itself")
                libs.add(lib)
    # One dpkg -S for all of them; merged /usr: dpkg may have registered a file under /lib.
    alias = {lib.replace("/usr/lib/", "/lib/", 1): lib for lib in libs}
    owners = subprocess.run(["dpkg", "-S", *sorted(libs), *sorted(set(alias) - libs)], capture_output=True, text=True)
    pkgs, owned = {"python3"}, set()
    for line in owners.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        if path.strip() in libs or path.strip() in alias:
            owned.add(alias.get(path.strip(), path.strip()))
            pkgs.add(pkg.split(":")[0].strip())
    check(owned == libs, f"no Debian package owns {sorted(libs - owned)}")
    return sorted(pkgs)


def deps_image(pkgs):
    """bookworm-slim + the runtime packages; built once per package set."""
    tag = "rm-install-test-deps:" + hashlib.sha256(" ".join(pkgs).encode()).hexdigest()[:12]
    if image_exists(tag):
        log(f"reusing {tag}")
        return tag
    name = f"rm-install-deps-{os.getpid()}"
    t = time.monotonic()
    script = APT_INSTALL + "apt_install " + " ".join(pkgs) + " && rm -rf /var/lib/apt/lists.tmp"
    run([DOCKER, "run", "--name", name, *apt_cache_mounts(), BASE, "sh", "-ec", script], timeout=1200)
    try:
        run([DOCKER, "commit", name, tag])
    finally:
        subprocess.run([DOCKER, "rm", "-f", name], capture_output=True)
    log(f"built {tag} in {time.monotonic() - t:.1f} s ({len(pkgs)} packages)")
    return tag


def test_prefix(tmp):
    stage = os.path.join(tmp, "stage")
    secs = install(stage)
    log(f"installed in {secs:.1f} s, {du_mb(stage):.1f} MB")
    moved = os.path.join(tmp, "moved-prefix")
    shutil.move(stage, moved)
    image = deps_image(runtime_packages(moved))
    work = os.path.join(tmp, "work")
    os.makedirs(os.path.join(work, "out"))
    write_sine(os.path.join(work, "in.wav"))
    p = "/srv/somewhere/remotemedia"
    cmd = [DOCKER, "run", "--rm", "--name", f"rm-install-prefix-{os.getpid()}", "-u", f"{os.getuid()}:{os.getgid()}",
           "-e", "HOME=/tmp", "-e", f"REMOTEMEDIA_NODE_PATH={p}/{NODES_REL}", *SANITIZER_ENV,
           "-v", f"{moved}:{p}:ro", "-v", f"{work}:/work", "-w", "/work", image, "sh", "-ec",
           # The trees this test came from are not there.
           f"for d in '{ROOT}' '{BUILD}'; do if [ -e \"$d\" ]; then echo \"$d is visible\"; exit 3; fi; done; "
           f"{p}/bin/remotemedia run {p}/{PIPELINE_REL} --input audio_source=in.wav --output out.jsonl --output-dir out"]
    t = time.monotonic()
    run(cmd, timeout=600)
    log(f"pipeline in the container: {time.monotonic() - t:.1f} s")
    check_gain_outputs(work)


def test_deb(tmp):
    pkgdir = os.path.join(tmp, "pkg")
    t = time.monotonic()
    run(["cpack", "-G", "DEB", "-B", pkgdir, "--config", os.path.join(BUILD, "CPackConfig.cmake")], timeout=900)
    debs = glob.glob(os.path.join(pkgdir, "*.deb"))
    check(len(debs) == 1, f"cpack made {debs}")
    deb = debs[0]
    log(f"cpack -G DEB: {time.monotonic() - t:.1f} s, {os.path.basename(deb)} {os.path.getsize(deb) / 1e6:.1f} MB")
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout.strip()
    log(f"Depends: {depends}")
    work = os.path.join(tmp, "work")
    os.makedirs(os.path.join(work, "out"))
    write_sine(os.path.join(work, "in.wav"))
    shutil.copy(deb, os.path.join(work, "remotemedia.deb"))
    sock = os.environ.get("RM_DOCKER_SOCKET", "/var/run/docker.sock")
    script = APT_INSTALL + f"""
t0=$(date +%s%N)
apt_install /work/remotemedia.deb
echo "apt-get install ./remotemedia.deb: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
du -sk /usr/share/remotemedia /usr/bin/remotemedia /usr/lib/libremotemedia_ipc.so | sed 's/^/du: /'
cd /work
remotemedia doctor
REMOTEMEDIA_NODE_PATH=/usr/share/remotemedia/examples/python/nodes \\
  remotemedia run /usr/share/remotemedia/examples/python/audio_gain_pipeline.yaml \\
  --input audio_source=in.wav --output out.jsonl --output-dir out
chown -R {os.getuid()}:{os.getgid()} /work
"""
    t = time.monotonic()
    p = run([DOCKER, "run", "--rm", "--name", f"rm-install-deb-{os.getpid()}", "--shm-size=1g", *SANITIZER_ENV,
             "-e", "DOCKER_HOST=unix:///var/run/docker.sock", "-v", f"{sock}:/var/run/docker.sock",
             *apt_cache_mounts(), "-v", f"{work}:/work", BASE, "sh", "-ec", script], timeout=1200)
    log(f"container (install + doctor + pipeline): {time.monotonic() - t:.1f} s")
    print(p.stdout, flush=True)
    for name in ("python sdk", "ipc library", "python", "daemon", "/dev/shm", "ipc dir"):
        check(f"[ok] {name}:" in p.stdout, f"doctor did not pass '{name}':\n{p.stdout}")
    check("/usr/share/remotemedia/python" in p.stdout, "doctor does not show the installed SDK")
    check_gain_outputs(work)


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("prefix", "deb"):
        fail("usage: container_test.py prefix|deb")
    require_docker()
    check(image_exists(BASE), f"{BASE} is missing; run scripts/docker-up.sh (builds it locally)")
    tmp = tempfile.mkdtemp(prefix=f"rm-install-{sys.argv[1]}-")
    try:
        (test_prefix if sys.argv[1] == "prefix" else test_deb)(tmp)
        log("PASS")
    finally:
        # Files the container wrote as root (none expected) would need the daemon to remove.
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
