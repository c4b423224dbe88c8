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
