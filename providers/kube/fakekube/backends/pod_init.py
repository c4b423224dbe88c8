"""PID 1 of a local-backend pod (run as a script by `unshare`, stdlib only, no site).

argv: HOSTNAME then repeated `bind SRC DST RO(0|1)` and `mkdir PATH` directives,
applied in order inside the pod's fresh mount namespace. Prints `ready` once
set up, then reaps orphans (the job of a real pod's pause process) and fans
SIGTERM out to every process of the pod, as the runtime would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys


def _fan_out(signum: int, _frame: object) -> None:
    # kill(-1) from PID 1 of a PID namespace reaches every other process in it.
    try:
        os.kill(-1, signum)
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> int:
    socket.sethostname(argv[0])
    args = argv[1:]
    while args:
        op = args.pop(0)
        if op == "mkdir":
            os.makedirs(args.pop(0), exist_ok=True)
        elif op == "bind":
            src, dst, ro = args.pop(0), args.pop(0), args.pop(0)
            subprocess.run(["mount", "--bind", src, dst], check=True)
            if ro == "1":
                subprocess.run(["mount", "-o", "remount,bind,ro", dst], check=True)
    signal.signal(signal.SIGTERM, _fan_out)
    signal.signal(signal.SIGCHLD, lambda _s, _f: None)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            signal.pause()
        except InterruptedError:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
