"""What a plugin author sees: live progress on a terminal, readable details, the failed IDs
with their usual fix and a rerun command, gc's executable lookup, versioned JSON, and a
report even after Ctrl-C."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import orjson
import pytest
from helpers import default_signals, executable
from kit_helpers import BROKEN, MINIMAL, TmuxIsolation, needs_tmux

from protocol.conformance.catalog import all_specs
from protocol.conformance.hints import hint
from protocol.conformance.model import readable
from protocol.conformance.report import rerun_command
from protocol.conformance.runner import select as select_units
from protocol.conformance.session import resolve


class Readable(NamedTuple):
    detail: str
    shown: str


READABLE = [
    Readable("typed b'\\r\\r', want b'Enter'", 'typed "⏎⏎", want "Enter"'),
    Readable("got b'\\x03\\r'", 'got "^C⏎"'),
    Readable("got b'\\x1b[A'", 'got "⎋[A"'),
    Readable("got b'\\xe6\\x97\\xa5\\xe6\\x9c\\xac'", 'got "日本"'),
    Readable('got b"it\'s"', 'got "it\'s"'),
    Readable("no bytes here: verb'x' stays", "no bytes here: verb'x' stays"),
]


@pytest.mark.parametrize("case", READABLE, ids=[c.detail for c in READABLE])
def test_details_show_bytes_as_text(case: Readable) -> None:
    assert readable(case.detail) == case.shown


def test_every_check_id_has_a_one_line_fix() -> None:
    missing = [spec.code for spec in all_specs() if not hint(spec.code)]
    assert missing == []
    assert all("\n" not in hint(spec.code) for spec in all_specs())


def test_the_rerun_command_quotes_what_the_shell_would_split() -> None:
    line = rerun_command("./my prov", ["GC-STRICT-NUDGE-001"], env={"A": "x y"}, beads=False)
    assert line == "gc-provider-conformance './my prov' --env 'A=x y' --only GC-STRICT-NUDGE-001"


def test_a_bare_name_is_looked_up_on_path_only_as_gc_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "my-provider"
    here.write_text("#!/bin/sh\nexit 2\n")
    here.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ValueError, match=r"not found in \$PATH .*use ./my-provider"):
        resolve("my-provider")
    assert resolve("./my-provider") == str(here)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resolve("my-provider") == str(here)


def test_an_unresolvable_provider_fails_fast_in_one_line(tmp_path: Path) -> None:
    res = subprocess.run([*executable("gc-provider-conformance"), "my-provider"], capture_output=True,
                         text=True, cwd=tmp_path, env={**os.environ, "PATH": "/nonexistent"}, timeout=60)
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "executable file not found in $PATH" in res.stderr
    assert res.stdout == ""


def test_version_and_short_help() -> None:
    kit = executable("gc-provider-conformance")
    version = subprocess.run([*kit, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("gc-provider-conformance ")
    short = subprocess.run([*kit, "-h"], capture_output=True, text=True, timeout=60)
    assert short.returncode == 0 and "--only" in short.stdout


def on_a_terminal(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; return (exit code, everything shown)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    rc = proc.wait(timeout=60)
    os.close(master)
    return rc, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def broken_argv(isolation: TmuxIsolation, mode: str, *only: str) -> list[str]:
    env_args = [arg for k, v in isolation.env(BREAK=mode).items() for arg in ("--env", f"{k}={v}")]
    return [*executable("gc-provider-conformance"), str(BROKEN), *env_args,
            *[arg for code in only for arg in ("--only", code)]]


@needs_tmux
def test_a_broken_provider_on_a_terminal_shows_progress_then_failed_ids_fixes_and_a_rerun(
    tmux_isolation: TmuxIsolation,
) -> None:
    argv = broken_argv(tmux_isolation, "nudge-not-literal", "GC-STRICT-NUDGE", "RPP-LIFECYCLE-00")
    rc, shown = on_a_terminal(argv, {**os.environ, "NO_COLOR": ""})
    assert rc == 1, shown
    lines = shown.splitlines()
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 7 and progress[-1].startswith("[7/7]")
    assert lines.index(progress[-1]) < lines.index(next(line for line in lines if line.startswith("provider:")))
    assert "\x1b[1;31mFAIL" in shown  # colour on a terminal
    assert 'typed "⏎⏎", want "Enter"' in shown and "b'" not in shown
    closing = shown.split("2 failed:\n", 1)[1]
    assert "GC-STRICT-NUDGE-001" in closing and "fix: type the message literally" in closing
    rerun = closing.split("rerun just these:\n", 1)[1].strip().splitlines()[0]
    assert rerun.endswith("--only GC-STRICT-NUDGE-001 --only GC-STRICT-NUDGE-002")
    assert "--env BREAK=nudge-not-literal" in rerun


@needs_tmux
def test_no_color_turns_colour_off_even_on_a_terminal(tmux_isolation: TmuxIsolation) -> None:
    rc, shown = on_a_terminal(broken_argv(tmux_isolation, "nudge-not-literal", "GC-STRICT-NUDGE-002"),
                              {**os.environ, "NO_COLOR": "1"})
    assert rc == 1
    assert "\x1b[" not in shown and "[1/1] FAIL GC-STRICT-NUDGE-002" in shown


@needs_tmux
def test_json_carries_schema_and_kit_versions_and_durations(tmux_isolation: TmuxIsolation) -> None:
    argv = [*broken_argv(tmux_isolation, "", "RPP-LIFECYCLE-00"), "--json"]
    res = subprocess.run(argv, capture_output=True, timeout=120)
    doc = orjson.loads(res.stdout)
    assert doc["schema_version"] == 1
    assert doc["kit"]["name"] == "gc-provider-conformance" and doc["kit"]["version"]
    assert doc["interrupted"] is False
    assert all(isinstance(r["duration_s"], float) for r in doc["results"])
    assert any(r["duration_s"] > 0 for r in doc["results"])
    assert res.stderr == b""  # progress only on a terminal


@needs_tmux
@pytest.mark.slow
def test_an_interrupted_run_still_reports_what_finished(tmux_isolation: TmuxIsolation) -> None:
    env_args = [arg for k, v in tmux_isolation.env().items() for arg in ("--env", f"{k}={v}")]
    proc = subprocess.Popen([*executable("gc-provider-conformance"), str(MINIMAL), *env_args, "--json",
                             "--progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=default_signals)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # one check has finished
    assert re.match(rb"\[ *1/\d+\]", first), first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    doc = orjson.loads(out)
    assert doc["interrupted"] is True
    assert 1 <= len(doc["results"]) < sum(len(unit.specs) for unit in select_units())
    assert b"interrupted after" in err
