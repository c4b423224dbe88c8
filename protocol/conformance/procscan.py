"""Find processes by a marker in their environment or argv (/proc on Linux, ``ps`` elsewhere)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from protocol.processes import read_bytes


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


def available() -> bool:
    """Can this host's processes be read (``/proc`` with this process in it)?"""
    return os.path.exists(f"/proc/{os.getpid()}/cmdline")


def with_argv_containing(needle: bytes) -> list[Process]:
    """Live processes whose argv holds ``needle`` anywhere (any argument)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        raw = read_bytes(f"/proc/{entry}/cmdline")
        if needle in raw:
            found.append(Process(int(entry), raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()))
    return found


class ArgvWatch:
    """What a background scan of every process's argv saw while it ran."""

    def __init__(self) -> None:
        self.seen: dict[int, Process] = {}
        self.scans = 0


#: A new process's argv is read again and again this long (it may exec).
FRESH = 0.3
#: Every process's argv is read again this often (a late exec, a reused pid).
FULL_RESCAN = 0.1


@contextmanager
def watching_argv(needle: bytes) -> Iterator[ArgvWatch]:
    """Watch every process's argv for ``needle`` until the block ends.

    A value on a command line may live only for milliseconds (a ``tmux``
    client, a ``kubectl`` call), so one look afterwards is not enough: the
    scan lists ``/proc`` about every millisecond and reads the argv of each
    process while it is new, and of all of them every ``FULL_RESCAN`` s.
    A process that lives less than a scan can still slip through.
    """
    watch = ArgvWatch()
    done = threading.Event()

    def look(entry: str) -> None:
        raw = read_bytes(f"/proc/{entry}/cmdline")
        if needle in raw and int(entry) not in watch.seen:
            cmdline = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
            watch.seen[int(entry)] = Process(int(entry), cmdline)

    def scan() -> None:
        born: dict[str, float] = {}
        last_full = 0.0
        while not done.is_set():
            now = time.monotonic()
            full = now - last_full >= FULL_RESCAN
            if full:
                last_full = now
            for entry in os.listdir("/proc"):
                if entry.isdigit() and (full or now - born.setdefault(entry, now) < FRESH):
                    look(entry)
            watch.scans += 1
            done.wait(0.0005)

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        done.set()
        thread.join()
