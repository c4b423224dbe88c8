"""Run a command so that it dies with the `start` that launched it.

Gas City's start timeout SIGKILLs the provider process only; its children
would be orphaned and run on (a ``pre_start`` still cloning a repository
while the next start begins). `start` runs such commands as
``python -m providers.gc_session_tmux.guard <start-pid> <argv>...`` in a process
group of their own: the guard asks the kernel for SIGTERM when its parent dies
(``PR_SET_PDEATHSIG``) and answers it, like any SIGTERM, by SIGKILLing its
whole group, command and grandchildren included. A start that is merely
interrupted kills the group itself (`protocol.proc.run` does on any exception).
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _kill_group(signum: int = 0, frame: object = None) -> None:
    os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.stderr.write("usage: guard <parent-pid> <command>...\n")
        return 2
    import ctypes

    parent, command = int(argv[0]), argv[1:]
    signal.signal(signal.SIGTERM, _kill_group)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        sys.stderr.write(f"guard: prctl failed: {os.strerror(ctypes.get_errno())}\n")
        return 126
    if os.getppid() != parent:  # the parent died before the request took effect
        _kill_group()
    try:
        pid = os.posix_spawnp(command[0], command, os.environ)
    except OSError as error:
        sys.stderr.write(f"{command[0]}: {error.strerror}\n")
        return 127
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    return 128 - rc if rc < 0 else rc  # killed by a signal: as a shell reports it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
