"""The command line: JSON report, exit codes, and cleanup when interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import orjson
import pytest
from helpers import default_signals, executable
from kit_helpers import MINIMAL, TmuxIsolation, needs_tmux


def cli(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The installed `gc-provider-conformance` console script."""
    return subprocess.Popen(
        [*executable("gc-provider-conformance"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
        preexec_fn=default_signals,  # the tests interrupt it with SIGINT
    )


def tmux_sessions(isolation: TmuxIsolation) -> list[str]:
    listing = subprocess.run(
        ["tmux", "-L", isolation.socket, "list-sessions", "-F", "#{session_name}"],
        env={**os.environ, "TMUX_TMPDIR": str(isolation.tmpdir)},
        capture_output=True,
        text=True,
        check=False,
    )
    return listing.stdout.split()


@needs_tmux
def test_json_report_lists_each_requirement_and_exit_0_without_failures(
    tmux_isolation: TmuxIsolation,
) -> None:
    env_args = [arg for k, v in tmux_isolation.env().items() for arg in ("--env", f"{k}={v}")]
    proc = cli(str(MINIMAL), *env_args, "--only", "rpp", "--json", env={})
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    doc = orjson.loads(out)
    assert [r["code"] for r in doc["results"]][:2] == ["RPP-PROTOCOL-001", "RPP-LIFECYCLE-001"]
    assert doc["summary"] == {"passed": 6, "failed": 0, "skipped": 3}  # exec, provision, proc-stream
    assert doc["protocol"]["version"] == 0


def test_a_bad_env_flag_is_a_usage_error_exit_1() -> None:
    proc = cli(str(MINIMAL), "--env", "NOEQUALS", env={})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"KEY=VALUE" in err


@needs_tmux
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_run_stops_every_session_it_started(tmux_isolation: TmuxIsolation, sig: signal.Signals) -> None:
    env = tmux_isolation.env()
    env_args = [arg for k, v in env.items() for arg in ("--env", f"{k}={v}")]
    proc = cli(str(MINIMAL), *env_args, "--only", "strict", "--session-prefix", "gc-int-", env=env)
    deadline = time.monotonic() + 30
    while not [s for s in tmux_sessions(tmux_isolation) if s.startswith("gc-int-")]:
        assert time.monotonic() < deadline, "the kit never started a session"
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert [s for s in tmux_sessions(tmux_isolation) if s.startswith("gc-int-")] == []


def test_an_only_that_selects_nothing_is_a_usage_error_exit_1() -> None:
    proc = cli(str(MINIMAL), "--only", "no-such-suite", env={})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"no checks match" in err
