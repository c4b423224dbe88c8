"""start / stop / is-running / list-running against real tmux on a private socket."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import Provider, Start, wait_for

#: Runs again with GC_PORTABLE=1 (make portable-tests): it exercises the process paths.
pytestmark = pytest.mark.portable


def test_start_creates_a_running_session(tmux_provider: Provider, start: Start) -> None:
    name = start()
    assert tmux_provider.ok("is-running", name) == "true"


def test_start_without_command_runs_the_default_shell(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": ""})
    assert tmux_provider.ok("is-running", name) == "true"


def test_duplicate_start_fails_with_already_exists(tmux_provider: Provider, start: Start) -> None:
    name = start()
    res = tmux_provider.run("start", name, stdin="{}")
    assert res.rc == 1
    assert "already exists" in res.err.lower()
    assert tmux_provider.ok("is-running", name) == "true"


def test_concurrent_duplicate_starts_have_exactly_one_winner(tmux_provider: Provider, tmp_path: Path) -> None:
    cfg = json.dumps({"work_dir": str(tmp_path), "command": "sleep 300", "process_names": ["sleep"]})
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: tmux_provider.run("start", "race", stdin=cfg), range(5)))
    try:
        assert sorted(r.rc for r in results) == [0, 1, 1, 1, 1]
        assert all("already exists" in r.err for r in results if r.rc)
    finally:
        tmux_provider.run("stop", "race")


def test_stop_makes_the_session_gone_everywhere(tmux_provider: Provider, start: Start) -> None:
    name = start()
    tmux_provider.ok("stop", name)
    assert tmux_provider.ok("is-running", name) == "false"
    assert tmux_provider.ok("process-alive", name, stdin="sleep") == "false"
    assert name not in tmux_provider.ok("list-running", "").split("\n")


def test_stop_is_idempotent(tmux_provider: Provider, start: Start) -> None:
    tmux_provider.ok("stop", "never-started-conformance-session")
    name = start()
    tmux_provider.ok("stop", name)
    tmux_provider.ok("stop", name)


def test_is_running_on_unknown_session_is_false(tmux_provider: Provider) -> None:
    assert tmux_provider.ok("is-running", "unknown-conformance-session-never-existed") == "false"


def test_list_running_filters_by_raw_prefix(tmux_provider: Provider, start: Start) -> None:
    a, b = start(name="alpha-one"), start(name="beta-two")
    everything = tmux_provider.ok("list-running", "").split("\n")
    assert a in everything and b in everything
    assert tmux_provider.ok("list-running", "alpha").split("\n") == [a]


def test_list_running_with_no_server_is_empty(tmux_provider: Provider) -> None:
    assert tmux_provider.run("list-running", "") == (0, "", "")


def test_a_command_that_exits_leaves_a_recyclable_dead_session(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "true"})
    assert wait_for(lambda: tmux_provider.ok("is-running", name) == "false")
    assert name not in tmux_provider.ok("list-running", "").split("\n")
    start({"command": "sleep 300"}, name=name)  # recycled, not "already exists"
    assert tmux_provider.ok("is-running", name) == "true"


def test_a_zombie_session_is_recycled(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "sleep 300"})
    cfg = json.dumps({"command": "sleep 300", "process_names": ["no-such-agent"]})
    # The pane is alive but the named agent is not: a zombie, recycled instead of refused.
    res = tmux_provider.run("start", name, stdin=cfg, env={"GC_START_TIMEOUT_S": "1"})
    assert res.rc == 0, res.err
    assert tmux_provider.ok("is-running", name) == "true"


def _processes_with(argv: list[str]) -> list[int]:
    """Processes whose argv is exactly ``argv`` (not a substring: the tmux server's argv counts too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if raw.rstrip(b"\0").split(b"\0") == [a.encode() for a in argv]:
                found.append(int(entry.name))
    return found


def test_stop_ends_a_tree_that_traps_sigterm(tmux_provider: Provider, start: Start) -> None:
    # A duration no other test (or another suite on this machine) uses: only our sleeps match.
    marker = f"9{uuid.uuid4().int % 10**8:08d}.{uuid.uuid4().int % 1000:03d}"
    script = (f"trap '' TERM HUP; sleep {marker} & sleep {marker} & "
              f"setsid sh -c 'trap \"\" TERM HUP; sleep {marker}' & wait")
    name = start({"command": f"sh -c \"{script}\""})
    assert wait_for(lambda: len(_processes_with(["sleep", marker])) == 3)
    tmux_provider.ok("stop", name)
    assert _processes_with(["sleep", marker]) == []
    assert tmux_provider.ok("is-running", name) == "false"
