"""The kit's session handling: what a check starts is always stopped; a start can be canceled as gc does."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from protocol.conformance.context import Kit
from protocol.conformance.driver import Provider
from protocol.conformance.gojson import StartConfig
from protocol.conformance.model import CheckFailed

#: Logs every call as "op name stdin"; a start of a name containing "bad" fails.
LOGGING_PROVIDER = """#!/bin/sh
stdin=""
[ "$1" = start ] && stdin=$(cat)
printf '%s %s %s\\n' "$1" "$2" "$stdin" >> "$LOG"
case $1:$2 in start:*bad*) echo "start: broken" >&2; exit 1 ;; esac
exit 0
"""

#: A start that shrugs off SIGTERM (and logs it) until SIGKILL ends it.
STUBBORN_START = """#!/bin/sh
[ "$1" = start ] || exit 0
trap 'echo TERM >> "$LOG"' TERM
while :; do sleep 0.1; done
"""


class Logged(NamedTuple):
    """A kit and the log of every call its provider received."""

    kit: Kit
    log: Path

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def kit_with(tmp_path: Path, body: str) -> Iterator[Logged]:
    script = tmp_path / "provider"
    script.write_text(body)
    script.chmod(0o755)
    log = tmp_path / "calls"
    kit = Kit(Provider([str(script)], {"LOG": str(log)}))
    try:
        yield Logged(kit, log)
    finally:
        kit.cleanup()


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Logged]:
    yield from kit_with(tmp_path, LOGGING_PROVIDER)


@pytest.fixture
def stubborn(tmp_path: Path) -> Iterator[Logged]:
    yield from kit_with(tmp_path, STUBBORN_START)


def ops(calls: list[str]) -> list[str]:
    return [" ".join(call.split()[:2]) for call in calls]


def test_started_sessions_are_stopped_when_the_check_fails(logged: Logged) -> None:
    with pytest.raises(CheckFailed, match="is-running was wrong"), logged.kit.started("a", "b"):
        raise CheckFailed("is-running was wrong")
    assert ops(logged.calls()) == ["start a", "start b", "stop a", "stop b"]


def test_a_failed_start_fails_the_check_and_is_torn_down_at_once(logged: Logged) -> None:
    failed = pytest.raises(CheckFailed, match=r"^first start: start bad: exit 1: start: broken$")
    with failed, logged.kit.started("bad", what="first start"):
        pytest.fail("the body must not run when a start failed")
    assert ops(logged.calls()) == ["start bad", "stop bad"]


def test_a_config_factory_gives_each_session_a_config_of_its_own(logged: Logged) -> None:
    made = iter(("/w/1", "/w/2", "/w/3"))
    with logged.kit.started("a", "b", "c", config=lambda: StartConfig(work_dir=next(made)), concurrently=True):
        pass
    starts = sorted(call for call in logged.calls() if call.startswith("start"))
    assert [call.split(" ", 2)[2] for call in starts] == [f'{{"work_dir":"/w/{i}"}}' for i in (1, 2, 3)]


def test_stopping_stops_a_session_made_by_another_op(logged: Logged) -> None:
    with logged.kit.stopping("boxed"):
        logged.kit.run("provision", "boxed", stdin=b"{}")
    assert ops(logged.calls()) == ["provision boxed", "stop boxed"]


@pytest.mark.slow
def test_a_canceled_start_gets_sigterm_then_sigkill_two_seconds_later(stubborn: Logged) -> None:
    result = stubborn.kit.start("slow", StartConfig(), cancel_after=0.5)
    assert result.timed_out
    assert result.exit_code == -signal.SIGKILL
    assert 2.3 < result.elapsed < 4.5
    assert "TERM" in stubborn.calls()
