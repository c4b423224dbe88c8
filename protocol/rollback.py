"""Undo what this invocation created when it fails or is interrupted.

Gas City cancels an operation by signalling its process group (SIGINT in some
versions, SIGTERM in newer ones) and SIGKILLs it two seconds later. A `start`
that created a session, a pod or a child process must remove them inside that
window, so both signals raise `Interrupted` in the main thread and the
registered undo actions run newest first. An undo action that can finish on its own
(a delete handed to the API server) waits only until `Rollback.grace_left` runs out,
then leaves it running and lets the process exit: SIGKILL must find nothing to cut.
"""

from __future__ import annotations

import signal
import sys
import time

from protocol.errors import ProviderError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType


class Interrupted(ProviderError):
    """SIGINT, SIGTERM or SIGHUP arrived; the operation rolled back and exits 1."""


class Rollback:
    """A stack of undo actions, run on any exception unless `commit` was called."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    #: Of the 2 s gc leaves between its first signal and SIGKILL, what undo actions may
    #: spend waiting; the rest is the process's own exit, on a loaded machine too.
    GRACE = 1.2

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], object]]] = []
        self._previous: dict[int, object] = {}
        self._committed = False
        self._signalled_at: float | None = None

    def grace_left(self) -> float | None:
        """Seconds an undo action may still wait for work that finishes on its own (0 when
        none is left); None when no signal started the undo: then there is no limit."""
        if self._signalled_at is None:
            return None
        return max(0.0, self._signalled_at + self.GRACE - time.monotonic())

    def add(self, what: str, action: Callable[[], object]) -> None:
        self._undo.append((what, action))

    def commit(self) -> None:
        self._committed = True

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled_at = time.monotonic()
        # Ignore repeats while undoing; the first signal already started it.
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}; rolled back")

    def __enter__(self) -> Rollback:
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if exc is not None and not self._committed:
                for sig in self.SIGNALS:
                    signal.signal(sig, signal.SIG_IGN)
                for what, action in reversed(self._undo):
                    try:
                        action()
                    except Exception as error:  # keep undoing the rest
                        sys.stderr.write(f"rollback: {what}: {error}\n")
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)  # type: ignore[arg-type]
