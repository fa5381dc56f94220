#!/usr/bin/env python3
"""The installed prefix on this machine (CTest label "integration", no Docker):

  - `cmake --install` into a temporary prefix, then the prefix is moved elsewhere;
  - no file in it (CMake package, pkg-config file, Python, headers, docs, programs, libraries:
    installed with --strip) names the source or build directory;
  - the moved `remotemedia`, run from an unrelated directory with an empty environment (no
    RM_* variables), runs native + Python host-process nodes: outputs checked sample by sample;
  - examples/embed, configured with find_package(remotemedia) against the moved prefix, builds
    and streams audio through PipelineExecutor: exact frame count after resampling;
  - the same main.cpp built with `pkg-config --cflags --libs remotemedia` runs the same;
  - a program outside the prefix finds no SDK when there is none and says where it looked.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from install_common import (BUILD, FRAMES, NODES_REL, PIPELINE_REL, ROOT, check, check_gain_outputs, du_mb,  # noqa: E402
                            fail, install, log, run, write_sine)


def sanitized_build():
    cache = open(os.path.join(BUILD, "CMakeCache.txt")).read()
    return any(f"RM_SANITIZE:STRING={v}" in cache for v in ("address", "thread"))


def scan_for_tree_paths(prefix):
    """Files under prefix that contain the source or build directory path. In a sanitizer build
    the programs and libraries carry source locations for the sanitizer reports (UBSan/ASan
    data), so only non-ELF files are checked there."""
    needles = [ROOT.encode(), BUILD.encode()]
    skip_elf = sanitized_build()
    bad = []
    for d, _, files in os.walk(prefix):
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p):
                continue
            if skip_elf:
                with open(p, "rb") as fh:
                    if fh.read(4) == b"\x7fELF" or f.endswith(".a"):
                        continue
            data = open(p, "rb").read()
            if any(n in data for n in needles):
                bad.append(os.path.relpath(p, prefix))
    return bad


def main():
    tmp = tempfile.mkdtemp(prefix="rm-install-")
    try:
        stage = os.path.join(tmp, "stage")
        secs = install(stage)
        log(f"installed in {secs:.1f} s, {du_mb(stage):.1f} MB")
        prefix = os.path.join(tmp, "moved", "elsewhere")
        os.makedirs(os.path.dirname(prefix))
        shutil.move(stage, prefix)

        bad = scan_for_tree_paths(prefix)
        check(not bad, f"installed files naming the source/build tree: {bad[:10]}")
        for f in ["bin/remotemedia", "lib/libremotemedia_ipc.so", "share/remotemedia/python/remotemedia/runner.py",
                  "lib/cmake/remotemedia/remotemedia-config.cmake", "lib/cmake/remotemedia/remotemedia-config-version.cmake",
                  "lib/pkgconfig/remotemedia.pc", "include/remotemedia/runtime/executor.hpp",
                  "share/man/man1/remotemedia.1", PIPELINE_REL]:
            check(os.path.exists(os.path.join(prefix, f)), f"{f} not installed")

        work = os.path.join(tmp, "work")
        os.makedirs(os.path.join(work, "out"))
        write_sine(os.path.join(work, "in.wav"))
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "REMOTEMEDIA_NODE_PATH": os.path.join(prefix, NODES_REL),
               "RM_IPC_DIR": os.path.join(tmp, "ipc")}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        run([os.path.join(prefix, "bin/remotemedia"), "run", os.path.join(prefix, PIPELINE_REL),
             "--input", "audio_source=in.wav", "--output", "out.jsonl", "--output-dir", "out"], cwd=work, env=env)
        check_gain_outputs(work)

        # Without an SDK anywhere the Python node fails naming what is missing.
        noenv = dict(env, RM_PYTHON_SDK_DIR="")
        lonely = os.path.join(tmp, "lonely")
        os.makedirs(os.path.join(lonely, "bin"))
        shutil.copy(os.path.join(prefix, "bin/remotemedia"), os.path.join(lonely, "bin"))
        if not os.path.exists("/usr/share/remotemedia/python") and not os.path.exists("/usr/local/share/remotemedia/python"):
            import subprocess
            p = subprocess.run([os.path.join(lonely, "bin/remotemedia"), "run", os.path.join(prefix, PIPELINE_REL),
                                "--input", "audio_source=in.wav"], cwd=work, env=noenv, capture_output=True, text=True)
            check(p.returncode == 1, f"a CLI without an SDK exited {p.returncode}")
            check("the Python SDK was not found" in p.stderr and "RM_PYTHON_SDK_DIR" in p.stderr,
                  f"error does not say the SDK is missing: {p.stderr[-800:]}")
            log("a copied CLI without a prefix says: " + next(line for line in p.stderr.splitlines() if "SDK" in line)[:200])

        # The out-of-tree application, against the moved prefix.
        eb = os.path.join(tmp, "embed-build")
        run(["cmake", "-S", os.path.join(ROOT, "examples/embed"), "-B", eb, "-G", "Ninja",
             f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"])
        run(["cmake", "--build", eb], timeout=900)
        write48 = os.path.join(work, "in48.wav")
        import wave
        with wave.open(os.path.join(work, "in.wav")) as src, wave.open(write48, "wb") as dst:
            # 48 kHz stereo copy of the input (each sample three times, both channels).
            frames = src.readframes(src.getnframes())
            dst.setnchannels(2)
            dst.setsampwidth(2)
            dst.setframerate(48000)
            dst.writeframes(b"".join(frames[i:i + 2] * 6 for i in range(0, len(frames), 2)))
        pipeline = os.path.join(ROOT, "examples/embed/pipeline.yaml")
        out = run([os.path.join(eb, "embed_example"), pipeline, write48], cwd=work, env=env).stdout
        log("embed_example: " + out.strip().splitlines()[-1])
        check(f"total out {FRAMES} frames" in out, f"embed example output lacks 'total out {FRAMES} frames':\n{out[-1500:]}")
        check("@ 16000 Hz" in out, "embed example output is not at 16 kHz")

        # pkg-config users: the same program from one compiler line.
        pc_env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib/pkgconfig"))
        flags = run(["pkg-config", "--cflags", "--libs", "remotemedia"], env=pc_env).stdout.split()
        exe = os.path.join(tmp, "embed_pc")
        run(["g++", "-std=c++20", "-O1", os.path.join(ROOT, "examples/embed/main.cpp"), "-o", exe, *flags], timeout=900)
        out = run([exe, pipeline, write48], cwd=work, env=env).stdout
        check(f"total out {FRAMES} frames" in out, f"pkg-config build output lacks the frame total:\n{out[-1500:]}")
        log("PASS")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        fail(f"{type(e).__name__}: {e}")
