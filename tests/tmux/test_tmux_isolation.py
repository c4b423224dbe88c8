"""One agent can never hurt another: exact names, dead panes, and arguments that stay arguments.

Each test reproduces a defect seen on tmux 3.3a: a nudge into an exited agent
crashed the whole server, ``worker`` matched ``worker-2``, and an argument
ending in ``;`` ended the tmux command so the rest ran as tmux commands.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers import Provider, Start, wait_for


def tmux(provider: Provider, *args: str) -> subprocess.CompletedProcess[bytes]:
    """tmux itself on the provider's socket; output as bytes (no newline translation)."""
    return subprocess.run(["tmux", "-u", "-S", provider.env["GC_TMUX_SOCKET"], *args],
                          capture_output=True, timeout=30, check=False)


def exited(provider: Provider, start: Start) -> str:
    """A session whose agent has exited (remain-on-exit keeps its dead pane)."""
    name = start({"command": "sleep 300"})
    provider.ok("interrupt", name)
    assert wait_for(lambda: provider.ok("is-running", name) == "false")
    return name


class DeadPaneOp(NamedTuple):
    op: str
    args: tuple[str, ...]
    stdin: str


DEAD_PANE_OPS = [
    DeadPaneOp("nudge", (), "hi"),
    DeadPaneOp("nudge", (), "x" * 50_000),
    DeadPaneOp("send-keys", ("hello", "Enter"), ""),
    DeadPaneOp("interrupt", (), ""),
    DeadPaneOp("clear-scrollback", (), ""),
    DeadPaneOp("peek", ("10",), ""),
    DeadPaneOp("process-alive", (), "sleep"),
    DeadPaneOp("get-last-activity", (), ""),
    DeadPaneOp("is-attached", (), ""),
]


@pytest.mark.parametrize("case", DEAD_PANE_OPS, ids=lambda c: f"{c.op}-{len(c.stdin)}")
def test_no_op_on_an_exited_agent_takes_the_server_down(
    tmux_provider: Provider, start: Start, case: DeadPaneOp
) -> None:
    other = start()
    name = exited(tmux_provider, start)
    res = tmux_provider.run(case.op, name, *case.args, stdin=case.stdin,
                            env={"GC_NUDGE_DEBOUNCE_MS": "0"})
    assert res.rc == 0, res.err
    assert tmux_provider.ok("is-running", other) == "true"
    assert tmux(tmux_provider, "has-session", "-t", f"={name}:").returncode == 0


def test_a_nudge_to_an_exited_agent_is_a_quiet_no_op(tmux_provider: Provider, start: Start) -> None:
    name = exited(tmux_provider, start)
    res = tmux_provider.run("nudge", name, stdin="hi", env={"GC_NUDGE_DEBOUNCE_MS": "50"})
    assert (res.rc, res.err) == (0, "")
    assert b"gc-nudge" not in tmux(tmux_provider, "list-buffers").stdout


class PrefixOp(NamedTuple):
    op: str
    args: tuple[str, ...]
    stdin: str
    rc: int
    out: str


PREFIX_OPS = [
    PrefixOp("is-running", (), "", 0, "false"),
    PrefixOp("process-alive", (), "sleep", 0, "false"),
    PrefixOp("get-meta", ("GC_TMUX_SESSION",), "", 0, ""),
    PrefixOp("get-last-activity", (), "", 0, ""),
    PrefixOp("peek", ("5",), "", 1, ""),
    PrefixOp("set-meta", ("K",), "v", 1, ""),
    PrefixOp("remove-meta", ("GC_TMUX_SESSION",), "", 0, ""),
    PrefixOp("send-keys", ("C-c",), "", 0, ""),
    PrefixOp("interrupt", (), "", 0, ""),
    PrefixOp("nudge", (), "hi", 0, ""),
    PrefixOp("clear-scrollback", (), "", 0, ""),
    PrefixOp("is-attached", (), "", 0, "false"),
    PrefixOp("stop", (), "", 0, ""),
]


@pytest.mark.parametrize("case", PREFIX_OPS, ids=lambda c: c.op)
def test_a_name_never_reaches_a_session_it_is_only_a_prefix_of(
    tmux_provider: Provider, start: Start, case: PrefixOp
) -> None:
    stem = f"w{uuid.uuid4().hex[:6]}"
    other = start(name=f"{stem}-2")
    res = tmux_provider.run(case.op, stem, *case.args, stdin=case.stdin)
    assert (res.rc, res.value) == (case.rc, case.out), res.err
    assert tmux_provider.ok("is-running", other) == "true"
    assert tmux_provider.ok("process-alive", other, stdin="sleep") == "true"
    assert tmux_provider.ok("get-meta", other, "GC_TMUX_SESSION") == other
    assert tmux_provider.ok("get-meta", other, "K") == ""


def test_a_prefix_name_starts_its_own_session(tmux_provider: Provider, start: Start) -> None:
    stem = f"w{uuid.uuid4().hex[:6]}"
    other = start(name=f"{stem}-2")
    start(name=stem)
    tmux_provider.ok("stop", stem)
    assert tmux_provider.ok("is-running", other) == "true"
    assert tmux_provider.ok("list-running", stem) == other


@pytest.mark.parametrize("trailer", [["run-shell", "touch {marker}"], ["kill-server"],
                                     ["kill-session", "-t", "{other}"]],
                         ids=["run-shell", "kill-server", "kill-session"])
@pytest.mark.parametrize("key", ["Enter;", "a;", ";", "\\;", ";;"])
def test_a_key_ending_in_a_semicolon_never_ends_the_tmux_command(
    tmux_provider: Provider, start: Start, tmp_path: Path, key: str, trailer: list[str]
) -> None:
    other = start()
    name = start()
    marker = tmp_path / "injected"
    args = [a.format(marker=marker, other=f"={other}:") for a in trailer]
    res = tmux_provider.run("send-keys", name, key, *args)
    assert res.rc in (0, 1), res.err
    assert not marker.exists()
    assert tmux_provider.ok("is-running", other) == "true"
    assert tmux_provider.ok("is-running", name) == "true"


def test_the_semicolon_key_types_a_semicolon(tmux_provider: Provider, start: Start, tmp_path: Path) -> None:
    out = tmp_path / "typed"
    name = start({"command": f"sh -c 'stty raw -echo; exec cat > {out}'"})
    tmux_provider.ok("send-keys", name, ";", "a;", "\\;")
    assert wait_for(lambda: out.exists() and out.read_bytes() == b";a;\\;"), out.read_bytes()


@pytest.mark.parametrize("value", ["abc;", ";", ";;", "\\;", "a\\", "x ; kill-server",
                                   "-u", "#{session_name}#(touch /tmp/gc-meta-injection)",
                                   "it's \"quoted\" $(id) `id`", "two\nlines\n", "\t lead and trail \r",
                                   "ünïcødé 日本語 🚀", ""],
                         ids=["trailing-semicolon", "semicolon", "two-semicolons", "escaped",
                              "backslash", "command", "flag", "format", "quotes", "newlines",
                              "whitespace", "unicode", "empty"])
def test_set_meta_values_round_trip_byte_for_byte(
    tmux_provider: Provider, start: Start, value: str
) -> None:
    name = start()
    tmux_provider.ok("set-meta", name, "K", stdin=value)
    shown = tmux(tmux_provider, "show-environment", "-t", f"={name}:", "K").stdout
    assert shown == f"K={value}\n".encode()
    assert tmux_provider.ok("get-meta", name, "K") == value.rstrip("\n")
    assert not Path("/tmp/gc-meta-injection").exists()
    assert tmux_provider.ok("is-running", name) == "true"


def test_large_meta_values_are_stored_whole(tmux_provider: Provider, start: Start) -> None:
    name = start()
    tmux_provider.ok("set-meta", name, "K", stdin="small")
    big = "0123456789abcdef;" * 12_000  # ~200 KB, far over tmux's ~16 KB command line
    tmux_provider.ok("set-meta", name, "K", stdin=big)
    assert tmux_provider.ok("get-meta", name, "K") == big


def test_a_value_tmux_cannot_store_is_a_clear_error_and_keeps_the_old_value(
    tmux_provider: Provider, start: Start
) -> None:
    name = start()
    tmux_provider.ok("set-meta", name, "K", stdin="kept")
    res = tmux_provider.run("set-meta", name, "K", stdin=b"a\0b")
    assert res.rc == 1 and "NUL" in res.err and len(res.err.splitlines()) == 1
    assert tmux_provider.ok("get-meta", name, "K") == "kept"


def test_start_env_and_work_dir_arrive_byte_for_byte(
    tmux_provider: Provider, start: Start, tmp_path: Path
) -> None:
    work = tmp_path / "dir; with #{session_name} and #(touch injected)"
    values = {"V": "x;", "W": ";", "Q": "it's $(id)\nsecond line", "F": "#{pid}"}
    seen = tmp_path / "seen"
    name = start({"work_dir": str(work), "env": values,
                  "command": f"sh -c 'pwd > {seen}; exec sleep 300'"})
    for key, value in values.items():
        shown = tmux(tmux_provider, "show-environment", "-t", f"={name}:", key).stdout
        assert shown == f"{key}={value}\n".encode()
    assert wait_for(lambda: seen.exists() and seen.read_text() == f"{work}\n")
    assert not (Path.cwd() / "injected").exists() and not (work / "injected").exists()


def test_remove_meta_on_a_missing_session_succeeds(tmux_provider: Provider, start: Start) -> None:
    start()  # a server is running; the session is not
    assert tmux_provider.run("remove-meta", "no-such-session", "K").rc == 0
    assert tmux_provider.run("remove-meta", "no-such-session", "K",
                             env={"GC_TMUX_SOCKET": "/tmp/gc-no-such-socket"}).rc == 0
