"""``<exe> <op> --help`` prints the op's synopsis and exits 0, for every op of every executable."""

from __future__ import annotations

import importlib
from typing import NamedTuple

import pytest

from protocol.dispatch import run


class Exe(NamedTuple):
    name: str
    module: str
    table: str


EXECUTABLES = (
    Exe("gc-session-tmux", "providers.gc_session_tmux.cli", "OPERATIONS"),
    Exe("gc-session-k8s", "gc_session_k8s.cli", "OPERATIONS"),
    Exe("gc-beads-k8s", "gc_beads_k8s.cli", "TABLE"),
)
HUMAN = {("gc-session-k8s", "sync")}  # argparse prints its own, longer help
CASES = [(exe, op) for exe in EXECUTABLES
         for op, spec in getattr(importlib.import_module(exe.module), exe.table).items()
         if (exe.name, op) not in HUMAN]


@pytest.mark.parametrize(("exe", "op"), CASES, ids=[f"{e.name} {op}" for e, op in CASES])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_op_help_prints_the_synopsis_and_exits_0(exe: Exe, op: str, flag: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(exe.module)
    assert run(exe.name, getattr(module, exe.table), getattr(module, "VALIDATORS", {}), [op, flag],
               about=module.ABOUT) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"usage: {exe.name} {op}")
    assert captured.err == ""


def test_a_session_named_like_a_flag_is_still_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """Only ``<op> --help`` alone is help: with more arguments, a leading '-' is a bad name."""
    module = importlib.import_module("providers.gc_session_tmux.cli")
    assert run("gc-session-tmux", module.OPERATIONS, module.VALIDATORS, ["peek", "--help", "5"]) == 1
    assert "invalid session name" in capsys.readouterr().err


def test_the_main_help_points_at_a_protocol_document_that_exists(capsys: pytest.CaptureFixture[str]) -> None:
    import os

    module = importlib.import_module("gc_session_k8s.cli")
    assert run("gc-session-k8s", module.OPERATIONS, module.VALIDATORS, ["--help"], about=module.ABOUT) == 0
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    path = last.rsplit(" ", 1)[-1]
    assert path.endswith("PROTOCOL.md") and os.path.isfile(path)
    assert "  doctor\n" in run_help(module)


def run_help(module: object) -> str:
    from protocol.dispatch import help_text

    return help_text("x", module.OPERATIONS, "")  # type: ignore[attr-defined]
