"""A session stopped under a running op reads as missing, whatever tmux says about it.

When the last session of a server ends, the server lives on until its clients are gone; a
command arriving then finds no session at all and tmux says "no current target", not
"can't find session". ``exit-empty off`` holds a server in exactly that state, so each
case is deterministic; the nudge race stops the sessions at a `gate.Gate` between the
nudge's paste and its Enter.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from gate import Gate
from helpers import Provider, wait_for


def tmux(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", "-S", str(sock), *args], capture_output=True, text=True,
                          check=False)


def start(provider: Provider, tmp_path: Path, command: str = "sleep 300") -> str:
    name = f"es-{uuid.uuid4().hex[:8]}"
    res = provider.run("start", name, stdin=json.dumps({"work_dir": str(tmp_path),
                                                         "command": command}))
    assert res.rc == 0, res.err
    return name


#: op -> (arguments after the name, stdin)
OPS: dict[str, tuple[list[str], bytes]] = {
    "is-running": ([], b""), "is-attached": ([], b""), "process-alive": ([], b"sleep\n"),
    "nudge": ([], b"hello"), "get-meta": (["K"], b""), "set-meta": (["K"], b"v"),
    "remove-meta": (["K"], b""), "peek": (["5"], b""), "get-last-activity": ([], b""),
    "clear-scrollback": ([], b""), "send-keys": (["Enter"], b""), "interrupt": ([], b""),
    "stop": ([], b""),
}


@pytest.mark.parametrize("op", list(OPS))
def test_an_op_on_a_server_left_with_no_session_answers_as_for_a_missing_session(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path, op: str
) -> None:
    neighbour = start(tmux_provider, tmp_path)
    args, stdin = OPS[op]
    missing = f"gone-{uuid.uuid4().hex[:8]}"
    on_live_server = tmux_provider.run(op, missing, *args, stdin=stdin)
    assert tmux(tmux_socket, "set-option", "-s", "exit-empty", "off").returncode == 0
    try:
        tmux_provider.ok("stop", neighbour)
        assert tmux(tmux_socket, "list-sessions").stdout == ""  # running, with no session
        on_empty_server = tmux_provider.run(op, missing, *args, stdin=stdin)
    finally:
        tmux(tmux_socket, "kill-server")
    assert (on_empty_server.rc, on_empty_server.out) == (on_live_server.rc, on_live_server.out)
    assert "no current target" not in on_empty_server.err
    if on_empty_server.rc:
        assert on_empty_server.err.strip().endswith(f"session {missing!r} not found"), on_empty_server


@pytest.mark.parametrize("stopped", ["the session", "the session and its last neighbour"])
def test_a_nudge_whose_session_is_stopped_before_its_enter_exits_0(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path, stopped: str
) -> None:
    gate = Gate(tmp_path / "gate")
    target = start(tmux_provider, tmp_path)
    neighbour = start(tmux_provider, tmp_path)
    assert tmux(tmux_socket, "set-option", "-s", "exit-empty", "off").returncode == 0
    try:
        # The Enter after the paste is its own tmux call when the debounce is not 0.
        gated = gate.wrapper(tmp_path / "gated-tmux", shutil.which("tmux") or "tmux", "Enter")
        nudge = tmux_provider.spawn("nudge", target, stdin=b"hello",
                                    env={"GC_TMUX": gated, "GC_NUDGE_DEBOUNCE_MS": "1"})
        assert wait_for(gate.reached.exists, timeout=30)
        tmux_provider.ok("stop", target)
        if stopped != "the session":
            tmux_provider.ok("stop", neighbour)
        gate.release()
        assert nudge.wait(timeout=60) == 0, nudge.stderr.read() if nudge.stderr else ""
    finally:
        tmux(tmux_socket, "kill-server")
