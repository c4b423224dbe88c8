"""The kit catches a box that breaks exec, proc-stream, watch-startup or an env.* guarantee.

``broken/gc-session-tmux-broken`` wraps the real gc-session-tmux (which implements all
of them and passes) and breaks one rule per ``BREAK`` mode; each mode must FAIL its
check IDs. A provider that declares none of them (the minimal one) SKIPs them all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import executable
from kit_helpers import BOX_BREAKAGES, BOX_TOOLS, BROKEN_TMUX, MINIMAL, needs_tmux, new_isolation

from protocol.conformance.context import Options
from protocol.conformance.model import Status
from protocol.conformance.session import Run, run

NEW_CHECKS = ("RPP-CONN-002", "GC-STRICT-STREAM-001", "GC-STRICT-WATCH-001", "ENV-WORKSPACE",
              "ENV-TOOLING", "ENV-IDENTITY", "ENV-LEDGER", "ENV-TRANSCRIPTS")


def tmux_base() -> str:
    argv = executable("gc-session-tmux")
    if len(argv) != 1:
        pytest.skip("gc-session-tmux is not installed as a script")
    return argv[0]


def run_box(mode: str, fails: tuple[str, ...], base: str) -> Run:
    directory = Path("/tmp") / f"gcb-{uuid.uuid4().hex[:10]}"
    directory.mkdir(mode=0o700)
    env = {"GC_TMUX_SOCKET": str(directory / "s"), "GC_EXEC_STATE_DIR": str(directory / "state"),
           "GC_BROKEN_BASE": base, "BREAK": mode,
           "PATH": f"{BOX_TOOLS}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    try:
        return run(str(BROKEN_TMUX), env, fails, options=Options(workers=2))
    finally:
        subprocess.run(["tmux", "-S", str(directory / "s"), "kill-server"], capture_output=True,
                       timeout=10, check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def box_runs() -> Iterator[dict[str, Run]]:
    base = tmux_base()
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = pool.map(lambda b: run_box(b[0], b[1], base), BOX_BREAKAGES)
        yield dict(zip((mode for mode, _ in BOX_BREAKAGES), runs, strict=True))


@needs_tmux
@pytest.mark.slow
@pytest.mark.parametrize(("mode", "fails"), BOX_BREAKAGES, ids=[mode for mode, _ in BOX_BREAKAGES])
def test_broken_box_fails_its_checks(mode: str, fails: tuple[str, ...], box_runs: dict[str, Run]) -> None:
    verdicts = {row.result.code: row.result for row in box_runs[mode].rows}
    for code in fails:
        assert verdicts[code].status is Status.FAIL, f"{code}: {verdicts[code]}"


def test_box_modes_are_distinct() -> None:
    modes = [mode for mode, _ in BOX_BREAKAGES]
    assert len(modes) == len(set(modes))


@needs_tmux
def test_a_provider_declaring_none_of_them_skips_them_all() -> None:
    isolation = new_isolation()
    try:
        outcome = run(str(MINIMAL), isolation.env(), NEW_CHECKS, options=Options(workers=2))
    finally:
        isolation.reap()
    assert {row.result.code: row.result.status for row in outcome.rows} == dict.fromkeys(NEW_CHECKS, Status.SKIP)
