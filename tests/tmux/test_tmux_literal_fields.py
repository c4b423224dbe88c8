"""Every caller string reaches tmux literally, whatever tmux would expand.

tmux expands formats (``#{…}``, ``#(cmd)``, ``##``, and keeps ``##[`` as written), its
config language expands ``~`` and ``$``, and ``;`` ends a command. Each field of each op is
driven over that whole alphabet and read back from where it landed: the pane's real
working directory, the environment the pane's process sees, its command line, get-meta,
and what the pane receives from a nudge or send-keys.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from helpers import Provider, wait_for
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

#: What tmux's formats, its config language, styles and sh treat specially, plus plain text.
FORMAT_ALPHABET = "#{}[](),:;?!=<>&|%~$'\"\\` @^*-_.aZ9é☃"
CONTROL = "\t\n"

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
tmux_text = st.text(FORMAT_ALPHABET, min_size=1, max_size=40)
tmux_value = st.text(FORMAT_ALPHABET + CONTROL, min_size=1, max_size=60)
#: One path component (no ``/``, not ``.`` or ``..``).
dir_name = st.text(FORMAT_ALPHABET.replace(".", "") + CONTROL, min_size=1, max_size=40)
#: A file only a format that ran a command (``#(…)``) would create; unique to this run.
PWNED = f"/tmp/gc-pwned-{uuid.uuid4().hex[:12]}"
#: Tricky values named in the issue, tried before any generated one.
TRICKY = ["#[", "a#[b", "##[x]", "#{pane_pid}", "##", f"#(touch {PWNED})", "~", "$HOME",
          "~root", "x;", ";", "\\;", "#{l:#[}", "a\nb\tc", "'", '"']


def tmux(sock: Path, *args: str) -> str:
    res = subprocess.run(["tmux", "-S", str(sock), *args], capture_output=True, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.decode()


def pane_pid(sock: Path, name: str) -> int:
    """The pane's process, once it runs its own program (the server forks it first)."""
    pid = int(tmux(sock, "display-message", "-p", "-t", f"={name}:", "#{pane_pid}"))
    server = os.path.realpath(shutil.which("tmux") or "tmux")
    assert wait_for(lambda: os.path.realpath(f"/proc/{pid}/exe") != server, timeout=30)
    return pid


def start(provider: Provider, cfg: dict[str, object]) -> str:
    name = f"lit-{uuid.uuid4().hex[:8]}"
    res = provider.run("start", name, stdin=json.dumps(cfg), env={"GC_NUDGE_DEBOUNCE_MS": "0"})
    assert res.rc == 0, res.err
    return name


Test = TypeVar("Test", bound=Callable[..., None])


def with_tricky(test: Test) -> Test:
    """The `TRICKY` values as explicit examples of a one-argument property."""
    for value in TRICKY:
        test = example(value)(test)
    return test


@SETTINGS
@given(component=dir_name)
@with_tricky
def test_the_work_dir_is_the_panes_working_directory_byte_for_byte(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path, component: str
) -> None:
    work_dir = tmp_path / component
    name = start(tmux_provider, {"work_dir": str(work_dir), "command": "sleep 300"})
    try:
        assert os.readlink(f"/proc/{pane_pid(tmux_socket, name)}/cwd") == str(work_dir)
        stored = tmux(tmux_socket, "show-options", "-qv", "-t", f"={name}:", "@gc-work-dir")
        assert stored == str(work_dir) + "\n"
        # Nothing the value held was run (#(cmd)) or left as a server option.
        assert "@gc-value-" not in tmux(tmux_socket, "show-options", "-s")
    finally:
        tmux_provider.run("stop", name)
    assert not Path(PWNED).exists()


@SETTINGS
@given(value=tmux_value)
@with_tricky
def test_an_env_value_is_what_the_session_process_sees(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path, value: str
) -> None:
    name = start(tmux_provider, {"work_dir": str(tmp_path), "command": "sleep 300",
                                 "env": {"GC_LITERAL": value}})
    try:
        environ = Path(f"/proc/{pane_pid(tmux_socket, name)}/environ").read_bytes().split(b"\0")
        assert b"GC_LITERAL=" + value.encode() in environ
    finally:
        tmux_provider.run("stop", name)


@SETTINGS
@given(text=st.text(FORMAT_ALPHABET + "\t", min_size=1, max_size=40))
@with_tricky
def test_the_command_reaches_the_shell_as_written(
    tmux_provider: Provider, tmux_socket: Path, tmp_path: Path, text: str
) -> None:
    text = text.replace("\n", " ")
    command = "sleep 300; :" + shlex.quote(text)
    name = start(tmux_provider, {"work_dir": str(tmp_path), "command": command})
    try:
        argv = Path(f"/proc/{pane_pid(tmux_socket, name)}/cmdline").read_bytes().split(b"\0")
        assert argv[-2] == command.encode(), argv
    finally:
        tmux_provider.run("stop", name)


@SETTINGS
@given(value=tmux_value)
@with_tricky
def test_get_meta_returns_exactly_what_set_meta_stored(
    tmux_provider: Provider, tmp_path: Path, value: str
) -> None:
    name = start(tmux_provider, {"work_dir": str(tmp_path), "command": "sleep 300"})
    try:
        tmux_provider.ok("set-meta", name, "GC_LIT", stdin=value.encode())
        out = tmux_provider.run("get-meta", name, "GC_LIT").out
        assert out in (value, value + "\n")
    finally:
        tmux_provider.run("stop", name)


def typed_lines(out: Path) -> list[str]:
    return out.read_text("utf-8").splitlines() if out.exists() else []


@pytest.fixture
def cat_session(tmux_provider: Provider, tmp_path: Path) -> tuple[str, Path]:
    """A session whose pane writes every line it receives to a file."""
    out = tmp_path / f"typed-{uuid.uuid4().hex[:6]}"
    name = start(tmux_provider, {"work_dir": str(tmp_path),
                                 "command": f"stty -echo; exec cat > {shlex.quote(str(out))}"})
    return name, out


@SETTINGS
@given(text=tmux_text)
@with_tricky
def test_a_nudge_arrives_in_the_pane_exactly(
    tmux_provider: Provider, cat_session: tuple[str, Path], text: str
) -> None:
    text = text.replace("\n", " ").replace("\t", " ")
    name, out = cat_session
    before = len(typed_lines(out))
    tmux_provider.ok("nudge", name, stdin=text.encode(), env={"GC_NUDGE_DEBOUNCE_MS": "0"})
    assert wait_for(lambda: len(typed_lines(out)) > before, timeout=30)
    assert typed_lines(out)[before] == text


@SETTINGS
@given(text=tmux_text)
@with_tricky
def test_the_config_nudge_arrives_in_the_pane_exactly(
    tmux_provider: Provider, tmp_path: Path, text: str
) -> None:
    text = text.replace("\n", " ").replace("\t", " ")
    out = tmp_path / f"typed-{uuid.uuid4().hex[:6]}"
    name = start(tmux_provider, {"work_dir": str(tmp_path), "nudge": text,
                                 "command": f"stty -echo; exec cat > {shlex.quote(str(out))}"})
    try:
        assert wait_for(lambda: len(typed_lines(out)) > 0, timeout=30)
        assert typed_lines(out)[0] == text
    finally:
        tmux_provider.run("stop", name)


#: send-keys takes key names; an argument that is no key name is typed as text. Letters,
#: ``-`` and ``^`` build key names (``C-a``, ``^A``, ``Enter``), so they stay out, and a
#: key name holds no space (the validator refuses one).
KEYLESS = st.text("#{}[](),:;?!=<>&|%~$'\"\\`@*_.9é☃", min_size=2, max_size=30)


@SETTINGS
@given(text=KEYLESS)
@example("#[")
@example("##[x]")
@example("#{pane_pid}")
@example(f"#(touch${{IFS}}{PWNED})")
@example("x;")
def test_send_keys_types_a_non_key_argument_exactly(
    tmux_provider: Provider, cat_session: tuple[str, Path], text: str
) -> None:
    name, out = cat_session
    before = len(typed_lines(out))
    tmux_provider.ok("send-keys", name, text, "Enter")
    assert wait_for(lambda: len(typed_lines(out)) > before, timeout=30)
    assert typed_lines(out)[before] == text
    assert not Path(PWNED).exists()


@pytest.mark.parametrize("component", ["#[", "a##[b]", "#{pane_pid}", "~x", "$HOME"])
def test_copy_to_lands_in_a_work_dir_tmux_would_expand(
    tmux_provider: Provider, tmp_path: Path, component: str
) -> None:
    work_dir = tmp_path / component
    name = start(tmux_provider, {"work_dir": str(work_dir), "command": "sleep 300"})
    src = tmp_path / "src.txt"
    src.write_text("payload")
    try:
        tmux_provider.ok("copy-to", name, str(src), "in/dst.txt")
        assert (work_dir / "in" / "dst.txt").read_text() == "payload"
    finally:
        tmux_provider.run("stop", name)
