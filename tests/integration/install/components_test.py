#!/usr/bin/env python3
"""RM_COMPONENTS and per-module dependencies (CTest label "integration"):

  - `-DRM_COMPONENTS=telemetry` configures the real tree without looking for yaml-cpp, sndfile,
    soxr or webrtc-audio-processing (none of them appears in the cache), defines the telemetry
    apps and not the runtime;
  - an unknown component is a configure error naming it;
  - a listed module folder without CMakeLists.txt is a configure error naming the folder.
"""
import os
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
        log("PASS")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
