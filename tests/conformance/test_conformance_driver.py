"""The driver calls executables exactly as Gas City's Go caller does."""

from __future__ import annotations

import os
import time
from pathlib import Path

from protocol.conformance.driver import Provider, run_process


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "provider"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_argv_is_passed_without_a_shell_and_empty_arguments_survive(tmp_path: Path) -> None:
    provider = Provider([str(script(tmp_path, 'for a in "$@"; do printf "[%s]" "$a"; done\n'))])
    result = provider.run("list-running", "", "$(x) ;")
    assert result.output == "[list-running][][$(x) ;]"


def test_ops_without_payload_read_dev_null(tmp_path: Path) -> None:
    provider = Provider([str(script(tmp_path, "wc -c\n"))])
    assert provider.run("is-running", "s").output.strip() == "0"


def test_payload_bytes_arrive_unchanged(tmp_path: Path) -> None:
    provider = Provider([str(script(tmp_path, "od -An -c\n"))])
    assert provider.run("process-alive", "s", stdin=b"a\nb").output.split() == ["a", "\\n", "b"]


def test_exit_2_is_not_implemented_and_other_codes_are_errors(tmp_path: Path) -> None:
    provider = Provider([str(script(tmp_path, 'echo oops >&2; exit "$2"\n'))])
    assert provider.run("x", "2").not_implemented
    failed = provider.run("x", "3")
    assert failed.failed and failed.error_text == "oops"


def test_extra_env_reaches_the_provider(tmp_path: Path) -> None:
    provider = Provider([str(script(tmp_path, 'printf %s "$GC_X"\n'))], {"GC_X": "y"})
    assert provider.run("op").output == "y"


def test_timeout_terminates_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    body = f"sleep 60 & echo $! > {marker}; wait\n"
    began = time.monotonic()
    result = run_process([str(script(tmp_path, body))], None, 0.5, dict(os.environ))
    assert result.timed_out
    assert time.monotonic() - began < 5
    child = int(marker.read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()


def test_a_grandchild_holding_stdout_cannot_hang_the_caller(tmp_path: Path) -> None:
    body = "setsid sleep 30 & echo done\n"
    began = time.monotonic()
    result = run_process([str(script(tmp_path, body))], None, 10, dict(os.environ))
    assert result.ok and result.output == "done"
    assert time.monotonic() - began < 5


def test_an_op_with_stdin_closed_has_no_descriptor_0_and_keeps_its_argv(tmp_path: Path) -> None:
    body = 'if { true 3<&0; } 2>/dev/null; then s=open; else s=closed; fi; printf "%s %s %s" "$s" "$1" "$2"\n'
    provider = Provider([str(script(tmp_path, body))])
    assert provider.run("nudge", "s", close_stdin=True).output == "closed nudge s"
    assert provider.run("nudge", "s", stdin=b"x", close_stdin=True).output == "closed nudge s"
    assert provider.run("nudge", "s").output == "open nudge s"


def test_an_op_runs_from_the_callers_directory(tmp_path: Path) -> None:
    provider = Provider([str(script(tmp_path, "pwd\n"))])
    there = tmp_path / "caller"
    there.mkdir()
    assert provider.run("is-running", "s", cwd=str(there)).output == str(there)
