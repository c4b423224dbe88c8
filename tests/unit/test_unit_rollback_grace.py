"""A rollback after gc's signal waits only within the grace before SIGKILL; what it cannot
wait for (a delete handed to kubectl) is left running on its own, never killed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from protocol import proc
from protocol.rollback import Interrupted, Rollback


def test_an_undo_after_a_failure_has_no_grace_limit() -> None:
    seen: list[float | None] = []
    with pytest.raises(RuntimeError), Rollback() as rollback:
        rollback.add("look", lambda: seen.append(rollback.grace_left()))
        raise RuntimeError("failed")
    assert seen == [None]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_an_undo_after_a_signal_gets_what_is_left_of_the_grace(signum: int) -> None:
    seen: list[float | None] = []
    with pytest.raises(Interrupted), Rollback() as rollback:
        rollback.add("look again", lambda: seen.append(rollback.grace_left()))
        rollback.add("take time", lambda: time.sleep(0.3))
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the signal interrupts this
    [left] = seen
    assert left is not None and 0 <= left <= Rollback.GRACE - 0.3


def test_the_grace_never_goes_negative() -> None:
    seen: list[float | None] = []
    with pytest.raises(Interrupted), Rollback() as rollback:
        rollback.add("look last", lambda: seen.append(rollback.grace_left()))
        rollback.add("outlast the grace", lambda: time.sleep(Rollback.GRACE + 0.1))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert seen == [0.0]


def test_a_child_that_outlives_detach_after_is_left_running(tmp_path: Path) -> None:
    done = tmp_path / "done"
    with pytest.raises(proc.Detached) as raised:
        proc.run(["sh", "-c", 'sleep 2; echo ok > "$0"', str(done)], detach_after=0.1,
                 new_group=True)
    pid = raised.value.pid
    assert not done.exists()  # it did not wait the child out
    _, status = os.waitpid(pid, 0)  # still ours to reap here; it finished its work
    assert os.waitstatus_to_exitcode(status) == 0 and done.read_text() == "ok\n"


def test_a_child_done_within_detach_after_is_an_ordinary_result() -> None:
    res = proc.run(["sh", "-c", "echo out; echo err >&2; exit 3"], detach_after=30)
    assert (res.rc, res.out, res.err) == (3, b"out\n", b"err\n")


def test_detach_after_zero_still_starts_the_child(tmp_path: Path) -> None:
    done = tmp_path / "done"
    with pytest.raises(proc.Detached) as raised:
        proc.run(["sh", "-c", 'sleep 0.5; : > "$0"', str(done)], detach_after=0)
    os.waitpid(raised.value.pid, 0)
    assert done.exists()
