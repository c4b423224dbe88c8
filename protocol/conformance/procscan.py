"""Find processes by a marker in their environment (Linux ``/proc``)."""

from __future__ import annotations

import os
import signal
import time
from typing import NamedTuple


class Process(NamedTuple):
    pid: int
    cmdline: str


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _is_zombie(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat")
    end = stat.rfind(b")")
    return end < 0 or stat[end + 2 : end + 3] in (b"Z", b"X", b"")


def with_environment_marker(marker: str) -> list[Process]:
    """Live (non-zombie) processes whose environment contains ``marker``."""
    needle = marker.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if needle not in _read(f"/proc/{pid}/environ") or _is_zombie(pid):
            continue
        cmdline = _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode("utf-8", "replace")
        found.append(Process(pid, cmdline.strip()))
    return found


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
