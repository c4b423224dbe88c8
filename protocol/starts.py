"""Which start made a session: a marker naming the starting process, for crash-safe starts.

A start writes the marker on what it creates (a tmux option locally, a pod annotation in
Kubernetes) and clears or completes it as its last step. A later start that finds a
marker whose process is gone knows the earlier start died (SIGKILL, crash) and recycles
what it left, instead of reporting "already exists" forever; a marker whose process still
runs is a start in progress, never touched.
"""

from __future__ import annotations

import os


def process_start_time(pid: int) -> str:
    """Field 22 of /proc/PID/stat: with the pid, names one process for its lifetime."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return ""
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else ""


def new_marker() -> str:
    pid = os.getpid()
    return f"{pid}-{process_start_time(pid)}-{os.urandom(4).hex()}"


def starter_alive(marker: str) -> bool:
    """Is the start that wrote ``marker`` still running?"""
    pid, _, rest = marker.partition("-")
    started = rest.partition("-")[0]
    if not pid.isdigit():
        return False
    if started:
        return process_start_time(int(pid)) == started
    from protocol import processes  # no /proc where that start ran (macOS): the pid alone

    return not processes.gone(int(pid))
