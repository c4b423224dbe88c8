"""Find processes by a marker in their environment (/proc on Linux, ``ps`` elsewhere)."""

from __future__ import annotations

import os
import signal
import time
from typing import NamedTuple


class Process(NamedTuple):
    pid: int
    cmdline: str


def with_environment_marker(marker: str) -> list[Process]:
    """Live (non-zombie) processes whose environment contains ``marker`` (``KEY=VALUE``)."""
    from protocol.processes import command_line, environments

    return [Process(pid, command_line(pid)) for pid, _ in environments(marker)]


def wait_for(marker: str, at_least: int, timeout: float) -> list[Process]:
    """Poll until ``at_least`` marked processes exist (or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        found = with_environment_marker(marker)
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def wait_gone(marker: str, timeout: float) -> list[Process]:
    """Poll until no marked process is left; return the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        found = with_environment_marker(marker)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def kill_all(processes: list[Process]) -> None:
    for process in processes:
        try:
            os.kill(process.pid, signal.SIGKILL)
        except OSError:
            pass
