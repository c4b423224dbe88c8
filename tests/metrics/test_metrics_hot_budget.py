"""With metrics and the op log on, a hot op still imports nothing heavy: the exposition and the
JSON line are written by hand (``json`` and ``re`` stay out too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Provider, program_of
from metrics_helpers import private_dir

#: ``threading`` (and the ``collections`` and ``functools`` it brings) cost a fold ~3 ms of
#: CPU: a fresh op has one thread, and its fold takes only the file lock.
HEAVY = {"typer", "kubernetes", "libtmux", "rich", "click", "subprocess", "orjson", "enum", "re", "json",
         "threading", "collections", "functools"}
HOT = [("is-running", []), ("process-alive", []), ("get-meta", ["k"]), ("get-last-activity", []),
       ("peek", ["10"]), ("nudge", []), ("list-running", None)]


@pytest.fixture
def session(tmux_provider: Provider, tmp_path: Path) -> Iterator[str]:
    name = f"h-{uuid.uuid4().hex[:8]}"
    cfg = {"work_dir": str(tmp_path), "command": "cat"}
    assert tmux_provider.run("start", name, stdin=json.dumps(cfg)).rc == 0
    yield name
    tmux_provider.run("stop", name)


@pytest.mark.parametrize(("op", "args"), HOT, ids=[op for op, _ in HOT])
def test_a_hot_op_counted_and_logged_imports_nothing_heavy(
        tmux_provider: Provider, session: str, tmp_path: Path, op: str, args: list[str] | None) -> None:
    where = private_dir(tmp_path)
    log = tmp_path / "ops.jsonl"
    script = tmux_provider.argv[-1]
    if not script.endswith(".py"):
        script = program_of(script)
    argv = [""] if args is None else [session, *args]
    stdin = b"cat" if op == "process-alive" else b"hi" if op == "nudge" else b""
    env = {**tmux_provider.env, "GC_NUDGE_DEBOUNCE_MS": "0", "GC_METRICS_DIR": str(where), "GC_TMUX_LOG": str(log)}
    proc = subprocess.run([sys.executable, "-X", "importtime", script, op, *argv], input=stdin,
                          capture_output=True, env=env, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-500:]
    names = {line.rsplit("|", 1)[1].strip().split(".")[0]
             for line in proc.stderr.decode().splitlines() if line.startswith("import time:") and "|" in line}
    assert "protocol" in names and names & HEAVY == set()
    assert (where / f"gc-providers-{os.geteuid()}.prom").exists()
    assert json.loads(log.read_text())["op"] == op
