"""Surprising-but-valid starts say so on stderr (exit 0 still means started, as gc reads it)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from helpers import Provider, wait_for

from providers.gc_session_tmux.local_runner import LocalRunner
from providers.tmux import launch


def test_process_names_that_never_appear_are_a_warning_not_silence(tmux_provider: Provider,
                                                                   tmp_path: Path) -> None:
    name = f"pn-{uuid.uuid4().hex[:8]}"
    # The wait ends with start's own budget (shortened here), not with a clock in the test.
    res = tmux_provider.run("start", name, stdin=json.dumps(
        {"work_dir": str(tmp_path), "command": "sleep 300", "process_names": ["nosuch"]}),
        env={"GC_START_TIMEOUT_S": "2"})
    try:
        assert res.rc == 0, res.err
        assert f"warning: none of process_names ['nosuch'] appeared in session {name!r}" in res.err
        assert tmux_provider.ok("is-running", name) == "true"
    finally:
        tmux_provider.run("stop", name)


@pytest.mark.parametrize(("command", "ended"), [("exit 3", "exited 3"),
                                                 ("kill -9 $$", "was killed by signal 9")])
def test_a_command_that_dies_during_startup_says_how_it_ended(tmux_provider: Provider, tmp_path: Path,
                                                               command: str, ended: str) -> None:
    res = tmux_provider.run("start", f"dies-{uuid.uuid4().hex[:8]}", stdin=json.dumps(
        {"work_dir": str(tmp_path), "command": command, "process_names": ["never-appears"]}))
    assert res.rc == 1
    # tmux marks the pane dead when its terminal closes and learns the status when it reaps
    # the command; on a loaded machine start may look in between and can only say "exited"
    # (it waits for the status by the clock, launch.STATUS_WAIT): never a wrong status.
    assert (f"died during startup (its command {ended})" in res.err
            or "died during startup (its command exited)\n" in res.err), res.err


def test_fire_and_forget_start_says_when_the_command_already_exited(tmux_provider: Provider,
                                                                    tmp_path: Path) -> None:
    """Without hints start returns at once; its one look at the pane names the exit when it is over.

    Whether the command has exited by then is a race, so the look itself is pinned on a
    pane known to be dead, and start's stderr either says so or says nothing."""
    name = f"ff-{uuid.uuid4().hex[:8]}"
    res = tmux_provider.run("start", name, stdin=json.dumps({"work_dir": str(tmp_path),
                                                             "command": "exit 3"}))
    assert res.rc == 0, res.err
    said = (f"warning: the command of session {name!r} already {{}} when start returned; "
            "is-running will say false\n")
    # "exited" alone when tmux had not reaped it yet (see the test above): never a wrong status
    assert res.err in ("", said.format("exited 3"), said.format("exited")), res.err
    assert wait_for(lambda: tmux_provider.ok("is-running", name) == "false")
    socket = tmux_provider.env["GC_TMUX_SOCKET"]
    runner = LocalRunner(socket, name, environ=tmux_provider.env)
    # tmux keeps no status for a command that ended before it knew the pane's pid (a loaded
    # machine): then the look says "exited" alone, never a wrong status.
    assert wait_for(lambda: launch.exited(runner) in ("exited 3", "exited"), timeout=30)
    tmux_provider.run("stop", name)
