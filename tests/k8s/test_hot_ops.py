"""Hot operations: exactly one kubectl process each, and no heavy imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import imported
from k8s_helpers import KUBECTL, K8s

HOT = [("is-running",), ("process-alive", b"sleep"), ("get-meta", "GC_SESSION_ID"),
       ("get-last-activity",), ("peek", "5"), ("nudge", b"hi"), ("send-keys", "Escape"),
       ("interrupt",), ("clear-scrollback",), ("set-meta", "k", b"v"), ("remove-meta", "k"),
       ("is-attached",)]
HEAVY = ("kubernetes", "typer", "libtmux", "rich", "pydantic", "urllib3", "subprocess")


@pytest.fixture
def counted(k8s: K8s, tmp_path: Path) -> tuple[K8s, Path]:
    """A kubectl wrapper on GC_KUBECTL that logs every invocation (the kubectl transport:
    what the other transports do instead is counted in tests/k8s/test_kept_answers.py)."""
    log = tmp_path / "kubectl-calls"
    wrapper = tmp_path / "kubectl"
    wrapper.write_text(f'#!/bin/sh\necho "$1 $2 $3 $4" >> {log}\nexec {KUBECTL} "$@"\n')
    wrapper.chmod(0o755)
    k8s.env.update(GC_KUBECTL=str(wrapper), GC_K8S_TRANSPORT="kubectl")
    return k8s, log


def split(op: tuple[object, ...]) -> tuple[list[str], bytes]:
    args = [a for a in op[1:] if isinstance(a, str)]
    stdin = next((a for a in op[1:] if isinstance(a, bytes)), b"")
    return args, stdin


def test_each_hot_op_runs_exactly_one_kubectl(counted: tuple[K8s, Path]) -> None:
    k8s, log = counted
    name = k8s.name()
    assert k8s.start(name, {"command": "sleep 300", "env": {"GC_SESSION_ID": "x"}}).rc == 0
    for op in [*HOT, ("list-running",)]:
        log.write_text("")
        args, stdin = split(op)
        target = [] if op[0] == "list-running" else [name]
        res = k8s.run(str(op[0]), *target, *(args or ([""] if op[0] == "list-running" else [])),
                      stdin=stdin)
        assert res.rc == 0, (op, res)
        calls = log.read_text().splitlines()
        assert len(calls) == 1, (op, calls)
    log.write_text("")
    k8s.ok("stop", name)
    assert len(log.read_text().splitlines()) == 1


@pytest.mark.parametrize("op", HOT, ids=lambda op: str(op[0]))
def test_hot_ops_import_no_heavy_modules(k8s: K8s, op: tuple[object, ...]) -> None:
    args, stdin = split(op)
    _, loaded = imported([*k8s.argv, str(op[0]), "no-such-session", *args], k8s.env,
                         stdin=stdin, timeout=60)
    modules = {name.split(".")[0] for name in loaded}
    assert not modules & set(HEAVY), modules & set(HEAVY)
