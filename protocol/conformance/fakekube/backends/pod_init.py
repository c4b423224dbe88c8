"""PID 1 of a local-backend pod (run as a script by `unshare`, stdlib only, no site).

argv: HOSTNAME ROOT then repeated `bind SRC DST RO(0|1)` and `mkdir PATH` directives,
applied in order inside the pod's fresh mount namespace. ROOT (a directory inside the
server's own temp dir) becomes the pod's root: a tmpfs that mirrors the host's ``/``
entry by entry (bind mounts), so a mountpoint or work dir the host lacks (``/workspace``)
is made in the pod's tmpfs, never on the host, and vanishes with the pod. Prints `ready`
once set up, then reaps orphans (the job of a real pod's pause process) and fans SIGTERM
out to every process of the pod, as the runtime would.
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


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _mirror(host_dir: str, target: str) -> None:
    """Make ``target`` a tmpfs showing ``host_dir``'s entries (each bound, never copied)."""
    _mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", target)
    for name in sorted(os.listdir(host_dir)):
        src, dst = os.path.join(host_dir, name), os.path.join(target, name)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isdir(src):
            os.mkdir(dst)
            _mount("--rbind", src, dst)
        elif os.path.exists(src):
            open(dst, "w").close()
            _mount("--bind", src, dst)


class PodRoot:
    """Paths as the pod sees them, created in the pod's own root, never on the host."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.mirrored = {"/"}
        _mirror("/", root)

    def at(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def ensure_dir(self, path: str) -> None:
        """Create ``path`` in the pod: the first missing level is made where it is private.

        Below a host directory that is bound into the pod (``/home``), that directory is
        first re-mirrored on a tmpfs of its own, so the new level lands on the tmpfs.
        """
        path = os.path.normpath(path)
        if os.path.isdir(self.at(path)):
            return
        parent = os.path.dirname(path)
        self.ensure_dir(parent)
        if parent not in self.mirrored:
            host_parent = parent  # still bound 1:1 from the host: shadow it first
            _mirror(host_parent, self.at(parent))
            self.mirrored.add(parent)
        os.mkdir(self.at(path))
        self.mirrored.add(path)  # made on a tmpfs: children may be created directly


def main(argv: list[str]) -> int:
    socket.sethostname(argv[0])
    root = PodRoot(argv[1])
    args = argv[2:]
    while args:
        op = args.pop(0)
        if op == "mkdir":
            root.ensure_dir(args.pop(0))
        elif op == "bind":
            src, dst, ro = args.pop(0), args.pop(0), args.pop(0)
            root.ensure_dir(dst)
            _mount("--bind", src, root.at(dst))
            if ro == "1":
                _mount("-o", "remount,bind,ro", root.at(dst))
            root.mirrored.add(os.path.normpath(dst))
    os.chroot(root.root)
    os.chdir("/")
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
