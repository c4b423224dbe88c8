"""Hot operations import nothing heavy: each one is a fresh process, called often."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import Provider, Start, program_of

HEAVY = ("typer", "kubernetes", "libtmux", "rich", "click", "subprocess", "orjson", "enum")
HOT = [("is-running", []), ("process-alive", []), ("get-meta", ["k"]), ("get-last-activity", []),
       ("peek", ["10"]), ("nudge", []), ("list-running", None)]


def imported_modules(provider: Provider, op: str, args: list[str], stdin: bytes) -> set[str]:
    script = provider.argv[-1]
    if not script.endswith(".py"):  # an installed launcher: its program, as it runs it
        script = program_of(script)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", script, op, *args], input=stdin,
        capture_output=True, env={**provider.env, "GC_NUDGE_DEBOUNCE_MS": "0"}, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-500:]
    names = set()
    for line in proc.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


@pytest.mark.parametrize(("op", "args"), HOT, ids=[op for op, _ in HOT])
def test_hot_op_imports_nothing_heavy(tmux_provider: Provider, start: Start, op: str, args: list[str] | None) -> None:
    name = start({"command": "cat"})
    argv = [""] if args is None else [name, *args]
    stdin = b"sleep" if op == "process-alive" else b"hi" if op == "nudge" else b""
    heavy = imported_modules(tmux_provider, op, argv, stdin) & set(HEAVY)
    assert heavy == set(), f"{op} imported {sorted(heavy)}"


def test_the_installed_script_does_not_import_re(tmux_provider: Provider) -> None:
    # pip's console-script wrapper imports `re` (+7 ms); ours is a plain script.
    script = tmux_provider.argv[-1]
    with open(script) as f:
        body = f.read()
    assert "import re" not in body and os.access(script, os.X_OK)
