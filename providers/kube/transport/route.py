"""Pick the door for one exec: helper, direct, or back to kubectl (returns None).

Every attempt is one audit line with its transport; a hand-back to kubectl is one line
with ``fallback`` (the reason) and exit -1, so an operator can see why an op was slow.
"""

from __future__ import annotations

import time

from protocol.proc import Result
from providers.kube import audit
from providers.kube.retry import with_retries
from providers.kube.transport import Fallback, KubectlOnly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.settings import KubeSettings


def audit_argv(pod: str, container: str, argv: list[str]) -> list[str]:
    return ["exec", pod, *(["-c", container] if container else []), "--", *argv]


def exec_fast(mode: str, settings: KubeSettings, pod: str, container: str, argv: list[str],
              stdin: bytes | None, timeout: float | None, retry: bool) -> Result | None:
    """The op's `Result` through a faster transport, or None: run it with kubectl."""
    shown = audit_argv(pod, container, argv)
    away = ""
    start = False
    if mode in ("helper", "auto"):
        from providers.kube.transport import helper_client

        started = time.monotonic()
        try:
            result, served = helper_client.exec_via_helper(settings, pod, container, argv,
                                                           stdin, timeout, retry)
        except helper_client.Away as why:
            away = why.reason
            start = why.start
        except Fallback as why:
            audit.record(shown, pod=pod, started=started, rc=-1, transport="helper",
                         fallback=why.reason)
            if isinstance(why, KubectlOnly):
                return None
        except BaseException:
            audit.record(shown, pod=pod, started=started, rc=-1, transport="helper")
            raise
        else:
            audit.record(shown, pod=pod, started=started, rc=result.rc, transport="helper",
                         resident=served.resident, cached=served.cached)
            return result
    elif mode != "direct":
        return None
    if not start:
        return exec_direct(settings, pod, container, argv, stdin, timeout, retry, shown, away)
    from providers.kube import errors

    try:
        went = exec_direct(settings, pod, container, argv, stdin, timeout, retry, shown, away)
    except (errors.KubeNotFound, errors.KubeForbidden, errors.KubeConflict, errors.KubeInvalid):
        launch()  # the cluster answered (no such pod, forbidden…): a helper will serve
        raise
    if went is not None:
        launch()
    return went


def launch() -> None:
    """Start the helper once a direct exec reached the cluster (an op with nowhere to go
    leaves none behind); its trouble is never the op's."""
    from providers.kube.transport import helper_client

    try:
        helper_client.launch()
    except Exception:  # a runtime dir not ours alone was refused when connecting
        pass


def exec_direct(settings: KubeSettings, pod: str, container: str, argv: list[str],
                stdin: bytes | None, timeout: float | None, retry: bool,
                shown: list[str], away: str = "") -> Result | None:
    """``away``: why the helper did not serve this call (kept on its audit lines)."""
    from providers.kube.transport import direct

    def attempt() -> Result:
        started = time.monotonic()
        try:
            result = direct.exec_once(settings, pod, container, argv, stdin, timeout)
        except Fallback:
            raise  # recorded once, below, with its reason
        except BaseException:
            audit.record(shown, pod=pod, started=started, rc=-1, transport="direct",
                         helper=away)
            raise
        audit.record(shown, pod=pod, started=started, rc=result.rc, transport="direct",
                     helper=away)
        return result

    started = time.monotonic()
    try:
        return with_retries(attempt, idempotent=retry)
    except Fallback as why:
        audit.record(shown, pod=pod, started=started, rc=-1, transport="direct",
                     fallback=why.reason, helper=away)
        return None
