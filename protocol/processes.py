"""Other processes, read the fast way on Linux (/proc) or the portable way (``ps``).

Used by ``stop`` (is a victim gone? which escaped processes still carry our
pane in their environment?) and the conformance kit (processes a check
marked). Linux reads ``/proc``; elsewhere (macOS), or with ``GC_PORTABLE=1``,
the same answers come from ``ps``: ``ps -o stat=`` for zombies, and ``ps``
with the environment appended to each command line (procps ``e``, BSD
``-E``), which is only as exact as a space-joined listing can be: markers are
matched as whole ``KEY=VALUE`` words.
"""

from __future__ import annotations

import os
import sys

from protocol import proc


def fast() -> bool:
    """Read /proc directly (Linux, unless GC_PORTABLE=1 asks for the portable path)."""
    return not proc.portable() and os.path.isdir("/proc/self")


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def gone(pid: int) -> bool:
    """Has ``pid`` exited? A zombie counts as gone (it only waits to be reaped)."""
    if fast():
        stat = read_bytes(f"/proc/{pid}/stat")
        end = stat.rfind(b")")
        return end < 0 or stat[end + 2 : end + 3] in (b"Z", b"X", b"")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, belongs to someone else
    res = proc.run(["ps", "-o", "stat=", "-p", str(pid)], timeout=10)
    state = res.out.strip()[:1]
    return not res.ok or state in (b"", b"Z")


def _environ_listing() -> list[tuple[int, bytes]]:
    """(pid, command line and environment) of every process ``ps`` shows us."""
    if sys.platform == "darwin":
        argv = ["ps", "-A", "-ww", "-E", "-o", "pid=", "-o", "command="]
    else:  # procps: the BSD-style ``e`` appends the environment
        argv = ["ps", "-A", "-ww", "-o", "pid=", "-o", "args=", "e"]
    res = proc.run(argv, timeout=20)
    found = []
    for line in res.out.splitlines():
        pid, _, rest = line.strip().partition(b" ")
        if pid.isdigit():
            found.append((int(pid), b" " + rest + b" "))
    return found


def environments(prefix: str) -> list[tuple[int, list[str]]]:
    """Live processes with an environment entry starting with ``prefix``, and all their entries.

    The portable listing joins argv and environment with spaces, so an entry
    is a space-separated word there: a value containing spaces is cut at the
    first one, which is enough for the markers and pane ids callers look for.
    """
    found = []
    if fast():
        needle = b"\0" + prefix.encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            environ = b"\0" + read_bytes(f"/proc/{entry}/environ")
            if needle in environ and not gone(int(entry)):
                found.append((int(entry), environ.decode("utf-8", "replace").split("\0")[1:]))
        return found
    needle = b" " + prefix.encode()
    for pid, text in _environ_listing():
        if pid != os.getpid() and needle in text and not gone(pid):
            found.append((pid, text.decode("utf-8", "replace").split()))
    return found


def command_line(pid: int) -> str:
    """The process's argv joined by spaces ('' when it is gone)."""
    if fast():
        return read_bytes(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode("utf-8", "replace").strip()
    res = proc.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], timeout=10)
    return res.text().strip() if res.ok else ""
