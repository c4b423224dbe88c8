"""A signal at any point of `start` rolls the start back and exits non-zero.

Each phase stops at a `gate.Gate` (a config command, or a tmux wrapper stopping at the
phase's tmux call), so the signal lands exactly in that phase; gc sends SIGTERM (SIGINT in
older versions) to the start's process group, and a closed terminal sends SIGHUP.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from gate import Gate
from helpers import Provider, wait_for

SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]


def phase_setup(phase: str, gate: Gate, tmp_path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The config and environment that stop ``start`` at ``phase``."""
    real = shutil.which("tmux") or "tmux"
    wrapper = tmp_path / "gated-tmux"

    def tmux_at(pattern: str) -> dict[str, str]:
        return {"GC_TMUX": gate.wrapper(wrapper, real, pattern)}

    if phase == "pre_start":
        return {"pre_start": [gate.sh]}, {}
    if phase == "create":
        return {}, tmux_at("start-server")
    if phase == "process wait":
        return {"process_names": ["gc-never-runs"]}, tmux_at("'#{pane_pid} '*")
    if phase == "ready prompt wait":
        return {"ready_prompt_prefix": "never-ready> "}, tmux_at("capture-pane")
    if phase == "session_setup":
        return {"session_setup": [gate.sh]}, {}
    if phase == "session_setup_script":
        script = tmp_path / "setup.sh"
        script.write_text(gate.sh + "\n")
        return {"session_setup_script": str(script)}, {}
    if phase == "config nudge":
        return {"nudge": "hello from the config"}, tmux_at("load-buffer")
    if phase == "session_live":
        return {"session_live": [gate.sh]}, {}
    if phase == "finish":
        return {}, tmux_at("if-shell")
    raise AssertionError(phase)


PHASES = ["pre_start", "create", "process wait", "ready prompt wait", "session_setup",
          "session_setup_script", "config nudge", "session_live", "finish"]


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("phase", PHASES)
def test_a_signal_in_any_phase_of_start_rolls_back_and_exits_non_zero(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path, phase: str, sig: int
) -> None:
    gate = Gate(tmp_path / "gate")
    extra, env = phase_setup(phase, gate, tmp_path)
    name = f"sig-{uuid.uuid4().hex[:8]}"
    cfg = {"work_dir": str(tmp_path / "wd"), "command": "sleep 300", **extra}
    proc = tmux_provider.spawn("start", name, stdin=json.dumps(cfg).encode(), env=env,
                               new_session=True)
    try:
        assert wait_for(gate.reached.exists, timeout=60), phase
        os.killpg(proc.pid, sig)
        gate.release()  # a phase that holds signals (create, finish) goes on, then undoes
        proc.wait(timeout=60)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, (phase, err)
    assert "rolled back" in err.splitlines()[-1], err
    assert tmux_provider.ok("is-running", name) == "false"
    listed = subprocess.run(["tmux", "-S", str(tmux_socket), "has-session", "-t", f"={name}"],
                            capture_output=True, check=False)
    assert listed.returncode != 0, f"session {name} left after {phase}"
    # Nothing blocks the next start of the name.
    res = tmux_provider.run("start", name, stdin=json.dumps(
        {"work_dir": str(tmp_path / "wd"), "command": "sleep 300"}))
    assert res.rc == 0, res.err
    tmux_provider.ok("stop", name)


def test_a_session_made_by_someone_else_during_create_is_neither_marked_nor_killed(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path
) -> None:
    """The create's commands are one command list: when `new-session` fails on a duplicate
    name, none of the rest (remain-on-exit, work dir, start marker) touches that session,
    so the rollback, which kills only a session carrying its marker, leaves it alone."""
    gate = Gate(tmp_path / "gate")
    real = shutil.which("tmux") or "tmux"
    name = f"dup-{uuid.uuid4().hex[:8]}"
    cfg = {"work_dir": str(tmp_path / "wd"), "command": "sleep 300"}
    proc = tmux_provider.spawn("start", name, stdin=json.dumps(cfg).encode(),
                               env={"GC_TMUX": gate.wrapper(tmp_path / "gated-tmux", real,
                                                            "start-server")})
    try:
        assert wait_for(gate.reached.exists, timeout=60)
        subprocess.run([real, "-S", str(tmux_socket), "new-session", "-d", "-s", name,
                        "sleep 300"], check=True)
        gate.release()
        proc.wait(timeout=60)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    try:
        assert proc.returncode == 1 and "already exists" in err, err
        shown = subprocess.run([real, "-S", str(tmux_socket), "show-options", "-t", f"={name}:"],
                               capture_output=True, text=True, check=True).stdout
        assert "@gc-" not in shown, shown
        assert tmux_provider.ok("is-running", name) == "true"
    finally:
        subprocess.run([real, "-S", str(tmux_socket), "kill-session", "-t", f"={name}"],
                       check=False)
