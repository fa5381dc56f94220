import asyncio
import os
import subprocess
import sys

import numpy as np
import pytest

from remotemedia.discovery import NodeNotFound, find_node_class
from remotemedia.nodes import MultiprocessNode, RuntimeData
from remotemedia.session import build_node

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples", "python", "nodes")


def test_node_type_is_found_by_class_name_in_the_node_path(monkeypatch):
    monkeypatch.setenv("REMOTEMEDIA_NODE_PATH", EXAMPLES)
    cls = find_node_class("TextUpper")
    assert issubclass(cls, MultiprocessNode) and cls.__name__ == "TextUpper"


def test_registered_builtin_is_found_without_a_node_path(monkeypatch):
    monkeypatch.delenv("REMOTEMEDIA_NODE_PATH", raising=False)
    assert find_node_class("SimpleTextCleanup").__name__ == "SimpleTextCleanup"


def test_node_path_wins_over_the_registry(monkeypatch, tmp_path):
    (tmp_path / "mine.py").write_text(
        "from remotemedia.nodes import MultiprocessNode\n"
        "class SimpleTextCleanup(MultiprocessNode):\n    mine = True\n")
    monkeypatch.setenv("REMOTEMEDIA_NODE_PATH", str(tmp_path))
    assert getattr(find_node_class("SimpleTextCleanup"), "mine", False)


def test_unknown_node_type_error_lists_every_place_it_looked(monkeypatch, tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    missing = tmp_path / "nope"
    monkeypatch.setenv("REMOTEMEDIA_NODE_PATH", f"{tmp_path}:{missing}")
    with pytest.raises(NodeNotFound) as e:
        find_node_class("DoesNotExist")
    msg = str(e.value)
    assert "'DoesNotExist' not found" in msg
    assert f"{tmp_path} (1 *.py file)" in msg
    assert f"{missing} (not a directory)" in msg
    assert "/app/nodes" in msg
    assert "registered nodes: Echo, SimpleTextCleanup" in msg


def test_a_broken_candidate_module_is_reported_not_fatal(monkeypatch, tmp_path):
    (tmp_path / "bad.py").write_text("class Broken:\n    pass\nraise RuntimeError('boom')\n")
    monkeypatch.setenv("REMOTEMEDIA_NODE_PATH", str(tmp_path))
    with pytest.raises(NodeNotFound, match=r"bad.py: RuntimeError: boom"):
        find_node_class("Broken")


def test_modules_without_the_class_are_never_imported(monkeypatch, tmp_path):
    (tmp_path / "side_effect.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w')\n")
    (tmp_path / "node.py").write_text(
        "from remotemedia.nodes import MultiprocessNode\nclass Quiet(MultiprocessNode):\n    pass\n")
    monkeypatch.setenv("REMOTEMEDIA_NODE_PATH", str(tmp_path))
    assert find_node_class("Quiet").__name__ == "Quiet"
    assert not (tmp_path / "ran").exists()


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


async def collect(agen):
    return [x async for x in agen]


def test_seed_step2_node_runs_unchanged(monkeypatch, capsys):
    monkeypatch.setenv("REMOTEMEDIA_NODE_PATH", EXAMPLES)
    node = build_node(find_node_class("MyCustomNode"), "my_custom_node", "s", {})
    run(node.initialize())
    samples = np.full(320, 0.5, np.float32)
    outs = run(collect(node.process(RuntimeData(data_type="audio", audio=(samples, 16000, 1),
                                                timestamp=20000))))
    assert len(outs) == 1 and outs[0].data_type == "text"
    assert outs[0].text == {"transcript": "320 samples, rms 0.500"}
    assert outs[0].timestamp == 20000
    assert run(collect(node.process(RuntimeData(data_type="text", text="x")))) == []
    run(node.cleanup())
    out = capsys.readouterr().out
    assert "Initializing MyCustomNode" in out and "Cleaning up MyCustomNode" in out


def test_simple_text_cleanup_applies_rules_in_order():
    node = build_node(find_node_class("SimpleTextCleanup"), "post", "s",
                      {"rules": ["lowercase", "trim"]})
    run(node.initialize())
    out = run(collect(node.process(RuntimeData("text", text="  Hello World  "))))
    assert out[0].text == "hello world"
    out = run(collect(node.process(RuntimeData("json", json={"transcript": " ABC "}))))
    assert out[0].json == {"transcript": "abc"}


def test_simple_text_cleanup_rejects_an_unknown_rule_naming_it():
    node = build_node(find_node_class("SimpleTextCleanup"), "post", "s", {"rules": ["shout"]})
    with pytest.raises(ValueError, match=r"node post: unknown rule\(s\) \['shout'\]"):
        run(node.initialize())


def test_runner_without_library_or_channels_fails_with_exit_code_2(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__file__)),
               RM_IPC_LIBRARY=str(tmp_path / "missing.so"))
    p = subprocess.run([sys.executable, "-m", "remotemedia.runner", "--node-type", "X",
                        "--node-id", "n", "--session-id", "s", "--ipc-dir", str(tmp_path),
                        "--open-timeout-ms", "10"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2
    assert "RM_IPC_LIBRARY" in p.stderr


def test_runner_rejects_params_that_are_not_an_object(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__file__)))
    p = subprocess.run([sys.executable, "-m", "remotemedia.runner", "--node-type", "X",
                        "--node-id", "n", "--session-id", "s", "--params-json", "[1]"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "must be a JSON object" in p.stderr
