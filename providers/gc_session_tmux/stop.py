"""Stop a local session: end its whole process tree, then the session.

`kill-session` alone only sends SIGHUP to the pane's process; an agent's
children, anything that ignores SIGHUP or traps SIGTERM, and daemons that
double-forked away would survive. So: collect the panes' descendants plus any
process still carrying one of the panes' ``TMUX_PANE`` in its environment,
SIGTERM them, poll (a cooperative tree is gone in milliseconds, no fixed
sleep), SIGKILL what remains after the grace period, then kill the session.
"""

from __future__ import annotations

import os
import signal
import time

from providers.tmux import proctree, session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.gc_session_tmux.local_runner import LocalRunner



def _gone(pid: int) -> bool:
    from protocol.processes import gone  # /proc on Linux, ps elsewhere

    return gone(pid)


def _escaped(socket_path: str, pane_ids: set[str], exclude: set[int]) -> list[int]:
    """Processes outside the tree that still carry one of our panes in their env."""
    from protocol.processes import environments

    wanted = {f"TMUX_PANE={pane}" for pane in pane_ids}
    return [pid for pid, env in environments(f"TMUX={socket_path},")
            if pid not in exclude and wanted.intersection(env)]


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
            if sig == signal.SIGTERM:
                os.kill(pid, signal.SIGCONT)  # a stopped process cannot act on TERM
        except (ProcessLookupError, PermissionError):
            pass


def grace_seconds() -> float:
    from providers.gc_session_tmux.settings import STOP_GRACE_MS

    return STOP_GRACE_MS.whole(os.environ) / 1000


def stop(r: LocalRunner) -> None:
    """Idempotent: a missing session or server is already stopped."""
    res = r.tmux(["list-panes", "-s", "-t", session.target(r), "-F", "#{pane_pid} #{pane_id}"])
    if not res.ok:
        return
    panes = [line.split(" ", 1) for line in res.out.decode().splitlines() if " " in line]
    roots = [int(pid) for pid, _ in panes if pid.isdigit()]
    tree = proctree.descendants(proctree.LocalProcesses(), roots) + roots
    me = {os.getpid(), os.getppid()}
    victims = [p for p in tree if p not in me]
    victims += _escaped(r.socket_path, {pid for _, pid in panes}, me | set(victims))
    _signal_all(victims, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds()
    delay = 0.002
    while (alive := [p for p in victims if not _gone(p)]) and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    if alive:
        _signal_all(alive, signal.SIGKILL)
    session.kill_session(r)
