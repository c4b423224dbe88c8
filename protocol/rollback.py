"""Undo what this invocation created when it fails or is interrupted.

Gas City cancels an operation by signalling its process group (SIGINT in some
versions, SIGTERM in newer ones) and SIGKILLs it two seconds later. A `start`
that created a session, a pod or a child process must remove them inside that
window, so both signals raise `Interrupted` in the main thread and the
registered undo actions run newest first.
"""

from __future__ import annotations

import signal
import sys

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

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], object]]] = []
        self._previous: dict[int, object] = {}
        self._committed = False

    def add(self, what: str, action: Callable[[], object]) -> None:
        self._undo.append((what, action))

    def commit(self) -> None:
        self._committed = True

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
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
