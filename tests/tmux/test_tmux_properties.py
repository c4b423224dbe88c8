"""Properties over open-ended input: hostile names, keys, values and messages for every op.

Real tmux on one private socket per module, shared by the examples: a
``victim`` session that no call targets must come through every example
untouched, a ``target`` session takes the calls, and a marker file that any
injected tmux or shell command would create never appears. Exit codes stay in
{0, 1} (2 is only for unknown ops); values round-trip byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers import Provider, executable, wait_for
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

#: Tens of examples each, 20-45 s a test: make test runs them, make check does not.
pytestmark = pytest.mark.slow

EXAMPLES = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class World(NamedTuple):
    provider: Provider
    socket: Path
    marker: Path
    typed: Path
    victim: str
    target: str
    work: Path


def tmux(world: World, *args: str) -> bytes:
    return subprocess.run(["tmux", "-u", "-S", str(world.socket), *args], capture_output=True,
                          timeout=30, check=False).stdout


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = Path("/tmp") / f"gct-{os.getpid():x}-{uuid.uuid4().hex[:8]}"  # the leak check's tag
    directory.mkdir(mode=0o700)
    socket = directory / "s"
    work = tmp_path_factory.mktemp("props")
    state = work / "state"
    state.mkdir(mode=0o700)
    env = {**os.environ, "GC_TMUX_SOCKET": str(socket), "GC_EXEC_STATE_DIR": str(state),
           "GC_NUDGE_DEBOUNCE_MS": "0"}
    env.pop("TMUX", None)
    provider = Provider(executable("gc-session-tmux"), env)
    typed = work / "typed"
    cfg = {"work_dir": str(work), "command": f"sh -c 'stty raw -echo; exec cat > {typed}'"}
    provider.ok("start", "p-target", stdin=json.dumps(cfg))
    provider.ok("start", "p-victim", stdin=json.dumps({"work_dir": str(work), "command": "sleep 300"}))
    provider.ok("set-meta", "p-victim", "KEEP", stdin="kept;")
    yield World(provider, socket, work / "injected", typed, "p-victim", "p-target", work)
    subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()


def unharmed(world: World) -> None:
    assert not world.marker.exists()
    assert world.provider.ok("is-running", world.victim) == "true"
    assert world.provider.ok("get-meta", world.victim, "KEEP") == "kept;"
    assert world.provider.ok("is-running", world.target) == "true"


def nasty(marker: Path) -> st.SearchStrategy[str]:
    """Text built from the pieces that have broken tmux, sh and format parsers."""
    pieces = [";", "\\;", ";;", "'", '"', f"$(touch {marker})", f"`touch {marker}`",
              f"#(touch {marker})", "#{session_name}", "#{pid}", "\n", "\r", "\t", " ", "-", "--",
              "-t", "=p-victim:", "run-shell", f"run-shell 'touch {marker}';", "kill-server",
              "{", "}", "~", "%if", "#", "\\", "ü", "日本", "🚀", "\x1b", "p-vic"]
    chars = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
    return st.lists(st.one_of(st.sampled_from(pieces), st.text(chars, max_size=4)),
                    max_size=8).map("".join)


MARKER = Path("/tmp") / f"gc-prop-injected-{uuid.uuid4().hex[:8]}"
TEXT = nasty(MARKER)
#: Key arguments: valid key names have no spaces, so the commands they could smuggle
#: in are space-free too (``${IFS}`` stands in for the space inside run-shell's script).
SMUGGLED = st.sampled_from(["kill-server", "run-shell", f"touch${{IFS}}{MARKER}", "kill-session",
                            "-t", "=p-victim:", "send-keys", "C-c", ";", "\\;"])
KEYS = st.lists(st.one_of(SMUGGLED, TEXT, TEXT.map(lambda t: t + ";")), min_size=1, max_size=6)


def marked(world: World) -> World:
    return world._replace(marker=MARKER)


@EXAMPLES
@given(keys=KEYS)
@example(keys=["a;", "kill-server"])
@example(keys=["Enter;", "run-shell", f"touch${{IFS}}{MARKER}"])
def test_send_keys_never_runs_a_command(world: World, keys: list[str]) -> None:
    w = marked(world)
    res = w.provider.run("send-keys", w.target, *keys)
    assert res.rc in (0, 1), res
    if res.rc:
        assert res.err.count("\n") == 1
    unharmed(w)


@EXAMPLES
@given(value=TEXT)
def test_meta_values_round_trip_byte_for_byte(world: World, value: str) -> None:
    w = marked(world)
    w.provider.ok("set-meta", w.target, "V", stdin=value)
    assert tmux(w, "show-environment", "-t", f"={w.target}:", "V") == f"V={value}\n".encode()
    assert w.provider.ok("get-meta", w.target, "V") == value.rstrip("\n")
    unharmed(w)


class Op(NamedTuple):
    op: str
    args: tuple[str, ...]
    stdin: str


OPS = [Op("is-running", (), ""), Op("process-alive", (), "sleep\ncat"), Op("get-meta", ("KEEP",), ""),
       Op("set-meta", ("KEEP",), "overwritten"), Op("remove-meta", ("KEEP",), ""), Op("peek", ("5",), ""),
       Op("get-last-activity", (), ""), Op("clear-scrollback", (), ""), Op("send-keys", ("C-c",), ""),
       Op("interrupt", (), ""), Op("nudge", (), "hello"), Op("is-attached", (), ""), Op("stop", (), ""),
       Op("copy-to", ("/etc/hostname", "x"), ""), Op("list-running", (), "")]


@EXAMPLES
@given(name=st.one_of(TEXT, st.sampled_from(["p", "p-", "p-vic", "p-victim-", "=p-victim", "p-victim:",
                                             "p-victim.0", "p_victim", "P-VICTIM", "*", "p-v*"])),
       case=st.sampled_from(OPS))
def test_no_name_reaches_another_session(world: World, name: str, case: Op) -> None:
    w = marked(world)
    if name in (w.victim, w.target):
        return
    res = w.provider.run(case.op, name, *case.args, stdin=case.stdin)
    assert res.rc in (0, 1), res
    unharmed(w)


@EXAMPLES
@given(message=TEXT.filter(bool))
def test_nudge_types_any_message_exactly(world: World, message: str) -> None:
    w = marked(world)
    before = w.typed.stat().st_size if w.typed.exists() else 0
    w.provider.ok("nudge", w.target, stdin=message)
    expected = message.encode() + b"\r"
    assert wait_for(lambda: w.typed.exists() and w.typed.stat().st_size >= before + len(expected))
    with w.typed.open("rb") as f:
        f.seek(before)
        assert f.read() == expected
    unharmed(w)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=TEXT, directory=TEXT.map(lambda t: t.replace("/", "_")[:60]), command=TEXT)
# Found by this property: tmux drops the whitespace after a newline in a single-quoted token.
@example(value="a\n\tb ~x $HOME", directory="\n\t", command="")
def test_start_env_work_dir_and_command_arrive_intact(
    world: World, value: str, directory: str, command: str
) -> None:
    w = marked(world)
    work = w.work / f"w{directory}"
    cfg = {"work_dir": str(work), "env": {"V": value},
           "command": "sleep 300 # " + command.replace("\n", " ").replace("\r", " ")}
    res = w.provider.run("start", "p-start", stdin=json.dumps(cfg))
    try:
        assert res.rc == 0, res.err
        if value:
            assert tmux(w, "show-environment", "-t", "=p-start:", "V") == f"V={value}\n".encode()
        shown = tmux(w, "show-options", "-qv", "-t", "=p-start:", "@gc-work-dir")
        assert shown == f"{work}\n".encode()
        assert w.provider.ok("is-running", "p-start") == "true"
    finally:
        w.provider.run("stop", "p-start")
    unharmed(w)
