"""Per-session file locks: how stateless processes serialize on one session.

Every operation is a fresh process, so in-memory locks cannot serialize two
nudges or two starts of one session. An exclusive `flock` on a file in the
state directory can; the kernel drops it when the holder dies.
"""

from __future__ import annotations

import fcntl
import os
import time

from protocol import privdir
from protocol.errors import ProviderError


def state_base() -> str:
    """``$GC_EXEC_STATE_DIR``, else ``gc-exec-<uid>`` in the per-user runtime dir or tmp."""
    return os.environ.get("GC_EXEC_STATE_DIR") or os.path.join(
        os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp",
        f"gc-exec-{os.geteuid()}",
    )


def state_dir(component: str, *parts: str) -> str:
    """``<state base>/<component>/<parts>...``, each directory private (`protocol.privdir`)."""
    return privdir.ensure_dir(state_base(), component, *parts,
                              top_ours_by_name=not os.environ.get("GC_EXEC_STATE_DIR"))


class FileLock:
    """An exclusive lock on ``path``, waited for up to ``timeout`` seconds."""

    def __init__(self, path: str, timeout: float, what: str) -> None:
        self.path = path
        self.timeout = timeout
        self.what = what
        self.fd = -1

    def __enter__(self) -> FileLock:
        try:
            self.fd = privdir.open_file(self.path, os.O_RDWR | os.O_CREAT, 0o600, "lock file")
        except OSError as error:
            raise ProviderError(f"{self.what}: lock file {self.path}: {error.strerror}") from None
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    self.fd = -1
                    raise ProviderError(f"{self.what}: still locked by another process after "
                                        f"{self.timeout:g}s") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1


def session_lock(component: str, scope: str, name: str, purpose: str, timeout: float) -> FileLock:
    """The lock for one ``purpose`` (``nudge``, ``start``) of one session."""
    # One directory per scope, whatever it holds (a kube context may hold `/`).
    part = scope.replace("%", "%25").replace("/", "%2F")
    directory = state_dir(component, "locks", "%2E" + part[1:] if part.startswith(".") else part)
    return FileLock(os.path.join(directory, f"{name}.{purpose}.lock"), timeout,
                    f"{purpose} of session {name!r}")
