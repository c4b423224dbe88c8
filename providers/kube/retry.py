"""The one retry policy for every call into Kubernetes (kubectl, exec, the Python client).

Rule: only a transient failure (`KubeUnavailable`: 429, 5xx, a refused or dropped
connection, a timeout) is retried, with the pauses of `BACKOFF`, within the caller's
deadline. A read is always safe to send again. A write is retried only when the
failure proves it never started (`KubeUnavailable.not_started`: the API refused the
exec upgrade or the pod lookup, or answered 429), because running a write twice
(a nudge typed twice, a bead created twice) is worse than one clear error.
"""

from __future__ import annotations

import os
import time

from providers.kube.errors import KubeError, KubeUnavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

#: Pauses between attempts: three retries, ~2.5 s in all, well inside gc's 30 s per op.
BACKOFF = (0.25, 0.75, 1.5)


def backoff() -> tuple[float, ...]:
    """The pauses in force: ``GC_K8S_RETRY_BACKOFF`` (seconds, comma-separated, each 0..30;
    the test suite shrinks them) or, unset or not that, `BACKOFF`."""
    raw = os.environ.get("GC_K8S_RETRY_BACKOFF", "")
    if not raw:
        return BACKOFF
    try:
        pauses = tuple(float(p) for p in raw.split(","))
    except ValueError:
        return BACKOFF
    return pauses if all(0 <= p <= 30 for p in pauses) else BACKOFF


def may_retry(error: KubeError, *, idempotent: bool) -> bool:
    return isinstance(error, KubeUnavailable) and (idempotent or error.not_started)


def pause_before(attempt: int, deadline: float | None = None) -> float | None:
    """The pause before retry number ``attempt`` (0-based), or None: give up."""
    pauses = backoff()
    if attempt >= len(pauses):
        return None
    pause = pauses[attempt]
    if deadline is not None and time.monotonic() + pause > deadline:
        return None
    return pause


def with_retries(attempt: Callable[[], T], *, idempotent: bool,
                 deadline: float | None = None) -> T:
    """Run ``attempt`` until it returns, retrying as the rule above allows."""
    n = 0
    while True:
        try:
            return attempt()
        except KubeError as error:
            pause = pause_before(n, deadline)
            if pause is None or not may_retry(error, idempotent=idempotent):
                raise
            from protocol import metrics

            metrics.count(metrics.RETRIES, error=type(error).__name__)
        time.sleep(pause)
        n += 1
