#!/usr/bin/env python3
"""RM_COMPONENTS and per-module dependencies (CTest label "integration"):

  - `-DRM_COMPONENTS=telemetry` configures the real tree without looking for yaml-cpp, sndfile,
    soxr or webrtc-audio-processing (none of them appears in the cache), defines the telemetry
    apps and not the runtime;
  - an unknown component is a configure error naming it;
  - a listed module folder without CMakeLists.txt is a configure error naming the folder;
  - exactly the files the telemetry Dockerfiles copy into their builder stage configure with the
    Dockerfile's own cmake options.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from install_common import ROOT, check, log  # noqa: E402


def configure(src, build, *opts):
    p = subprocess.run(["cmake", "-S", src, "-B", build, "-G", "Ninja", *opts], capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout + p.stderr


def main():
    tmp = tempfile.mkdtemp(prefix="rm-components-")
    try:
        b = os.path.join(tmp, "telemetry")
        rc, out = configure(ROOT, b, "-DRM_COMPONENTS=telemetry")
        check(rc == 0, f"telemetry-only configure failed:\n{out[-3000:]}")
        cache = open(os.path.join(b, "CMakeCache.txt")).read()
        for dep in ("yaml-cpp_DIR", "SNDFILE_", "SOXR_", "WEBRTC_AP_"):
            check(dep not in cache, f"telemetry-only configure looked for {dep.rstrip('_')}")
        targets = subprocess.run(["ninja", "-C", b, "-t", "targets", "all"], capture_output=True, text=True).stdout
        check("apps/telemetry-collector/telemetry-collector:" in targets, "no telemetry-collector target")
        check("apps/remotemedia/remotemedia:" not in targets, "the remotemedia CLI is configured without the runtime")
        log("telemetry-only configure: no audio/YAML dependency looked up")

        rc, out = configure(ROOT, os.path.join(tmp, "bogus"), "-DRM_COMPONENTS=telemetry;gpu")
        check(rc != 0 and "unknown component 'gpu'" in out, f"unknown component accepted (rc {rc}):\n{out[-1500:]}")

        # A source tree whose telemetry folder has lost its CMakeLists.txt.
        src = os.path.join(tmp, "src")
        os.makedirs(os.path.join(src, "telemetry"))
        shutil.copy(os.path.join(ROOT, "CMakeLists.txt"), src)
        shutil.copytree(os.path.join(ROOT, "cmake"), os.path.join(src, "cmake"))
        shutil.copytree(os.path.join(ROOT, "core"), os.path.join(src, "core"))
        rc, out = configure(src, os.path.join(tmp, "missing"), "-DRM_COMPONENTS=telemetry")
        check(rc != 0 and "module telemetry has no CMakeLists.txt" in out,
              f"a module without CMakeLists.txt was not an error (rc {rc}):\n{out[-1500:]}")

        # The telemetry images' builder stage: its COPY lines, then its cmake -S line's options.
        df = open(os.path.join(ROOT, "deploy/docker/telemetry-collector.Dockerfile")).read()
        builder = df.split("FROM ${BASE_IMAGE} AS runtime-base")[0]
        sub = os.path.join(tmp, "docker-src")
        for m in re.finditer(r"^COPY (.+) (\S+)$", builder, re.M):
            dst = os.path.join(sub, m.group(2))
            for src in m.group(1).split():
                if src.endswith("/"):  # a directory: its contents become dst
                    shutil.copytree(os.path.join(ROOT, src), dst, dirs_exist_ok=True)
                else:  # a file into the directory dst
                    os.makedirs(dst, exist_ok=True)
                    shutil.copy(os.path.join(ROOT, src), dst)
        opts = re.search(r"cmake -S \. -B /build (.*?)\\\n\s+(.*?) \\?\n", builder)
        check(opts is not None, "no `cmake -S . -B /build` line in the Dockerfile's builder stage")
        flags = [f for f in (opts.group(1) + " " + opts.group(2)).replace("&&", " ").split() if f.startswith("-D")]
        check("-DRM_COMPONENTS=telemetry" in flags, f"the Dockerfile does not configure -DRM_COMPONENTS=telemetry: {flags}")
        rc, out = configure(sub, os.path.join(tmp, "docker-build"), *flags)
        check(rc == 0, f"the Dockerfile's source subset does not configure with {flags}:\n{out[-3000:]}")
        log(f"the telemetry Dockerfiles' builder subset configures with {' '.join(flags)}")
        log("PASS")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
