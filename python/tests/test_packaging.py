"""`pip install ./python` offline (no build isolation, Debian's setuptools) into a fresh venv:
the package imports from the venv, not from this checkout, has the runner and its console
script, and its IPC lookup honours RM_IPC_LIBRARY and searches the prefix of the `remotemedia`
on PATH (an installed runtime)."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)


@pytest.mark.skipif(subprocess.run([sys.executable, "-c", "import setuptools, pip, venv"],
                                   capture_output=True).returncode != 0,
                    reason="python3-setuptools / python3-pip / python3-venv missing (scripts/setup.sh)")
def test_pip_install_offline_gives_an_importable_sdk_with_its_runner(tmp_path):
    venv = tmp_path / "venv"
    # No pip inside the venv (ensurepip is the slow part): the system pip installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    src = tmp_path / "src"
    subprocess.run(["cp", "-r", SDK, str(src)], check=True)
    subprocess.run(["rm", "-rf", str(src / "tests")], check=True)
    p = subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "--no-index",
                        "--no-build-isolation", "--no-deps", str(src)],
                       env=env, capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    probe = ("import remotemedia, remotemedia.runner, remotemedia.ipc as ipc, sys;"
             "print(remotemedia.__file__); print(remotemedia.__version__);"
             "print(ipc.library_candidates()[0])")
    out = subprocess.run([py, "-c", probe], env=dict(env, RM_IPC_LIBRARY="/x/libremotemedia_ipc.so"),
                         capture_output=True, text=True, cwd=tmp_path, check=True).stdout.split()
    assert out[0].startswith(str(venv)), f"imported from {out[0]}, not the venv"
    assert out[1] == "0.1.0"
    assert out[2] == "/x/libremotemedia_ipc.so"
    # Next to an installed runtime: the prefix of the `remotemedia` on PATH is searched.
    fake = tmp_path / "prefix"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "remotemedia").write_text("#!/bin/sh\n")
    (fake / "bin" / "remotemedia").chmod(0o755)
    probe = "import remotemedia.ipc as ipc; print('\\n'.join(ipc.library_candidates()))"
    cands = subprocess.run([py, "-c", probe], env=dict(env, PATH=f"{fake}/bin:/usr/bin:/bin"),
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout.split()
    assert str(fake / "lib" / "libremotemedia_ipc.so") in cands, cands
    runner = venv / "bin" / "remotemedia-runner"
    assert runner.exists()
    h = subprocess.run([str(runner), "--help"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert h.returncode == 0 and "--node-type" in h.stdout, h.stdout + h.stderr
