"""A gate: a point where a process a provider starts stops until the test opens it.

Deterministic phase control for signal tests: the process marks ``reached`` and blocks
reading a fifo, so the test knows exactly where the provider is when it sends a signal
(no sleep-and-hope), and ``release`` lets it go on (if it is still there).
"""

from __future__ import annotations

import os
from pathlib import Path


def sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


class Gate:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.reached = directory / "reached"
        self.fifo = directory / "gate"
        os.mkfifo(self.fifo)

    @property
    def sh(self) -> str:
        """Shell commands that mark the gate reached (once) and wait there."""
        reached, fifo = sh_quote(str(self.reached)), sh_quote(str(self.fifo))
        return f"[ -e {reached} ] || {{ : > {reached}; read -r _ < {fifo}; }}"

    def wrapper(self, path: Path, real: str, pattern: str) -> str:
        """An executable at ``path`` that runs ``real`` with its arguments, stopping at the
        gate first when one argument matches the sh ``case`` pattern ``pattern``."""
        path.write_text("#!/bin/sh\n"
                        f'for a in "$@"; do case $a in {pattern}) {self.sh} ;; esac; done\n'
                        f'exec {sh_quote(real)} "$@"\n')
        path.chmod(0o755)
        return str(path)

    def release(self) -> None:
        """Let a waiting process go on; nothing happens when none waits any more."""
        try:
            fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody reads (the process was killed by the rollback)
            return
        try:
            os.write(fd, b"\n")
        except BrokenPipeError:  # the reader was killed between our open and our write
            pass
        finally:
            os.close(fd)
