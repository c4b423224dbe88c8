"""kubectl calls for this provider: one process each, audited, errors classified.

Built on `providers.kube.kubectl` (argv prefix, exit-code trailer handling)
and `providers.kube.classify`; adds the audit log and the "session missing"
reading of exec failures that hot operations need.
"""

from __future__ import annotations

import time

from protocol.proc import Result
from providers.kube import audit
from providers.kube.classify import classify
from providers.kube.errors import KubeError, KubeNotFound, KubeUnavailable
from providers.kube.kubectl import BACKOFF, base_argv, remote_exit_code, strip_exit_marker
from providers.kube.kubectl import kubectl as seam_kubectl
from providers.kube.kubectl import spawn as kubectl_process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from providers.kube.settings import KubeSettings

#: kubectl's words for "the pod is there but its container cannot be exec'd into".
NOT_RUNNING = ("container not found", "is not valid for pod", "does not have a host assigned",
               "cannot exec into a container in a completed pod", "container not running",
               "is waiting to start", "pod is not running", "unable to upgrade connection: pod")


class PodGone(KubeError):
    """The pod does not exist or its container is not running: the session is missing."""


def spawn(argv: list[str], *, pod: str, stdin: bytes | None = None,
          timeout: float | None = None) -> Result:
    """`providers.kube.kubectl.spawn`, recorded in the audit log whatever the outcome."""
    started = time.monotonic()
    rc = -1
    try:
        result = kubectl_process(argv, stdin, timeout)
        rc = result.rc
    finally:
        audit.record(argv, pod=pod, started=started, rc=rc)
    return result


def kubectl(settings: KubeSettings, args: Sequence[str], *, pod: str = "",
            stdin: bytes | None = None, timeout: float | None = None, retry: bool = True,
            action: str = "") -> Result:
    """``kubectl <args>``, audited; transient failures retried (idempotent calls only)."""
    return seam_kubectl(args, settings=settings, stdin=stdin, action=action, idempotent=retry,
                        timeout=timeout,
                        process=lambda argv, data, limit: spawn(argv, pod=pod, stdin=data,
                                                                timeout=limit))


def exec_argv(settings: KubeSettings, pod: str, container: str, argv: Sequence[str], *,
              stdin: bool = False, tty: bool = False) -> list[str]:
    args = [*base_argv(settings, request_timeout=False), "exec"]
    if stdin:
        args.append("-i")
    if tty:
        args.append("-t")
    return [*args, pod, "-c", container, "--", *argv]


def exec_in(settings: KubeSettings, pod: str, container: str, argv: Sequence[str], *,
            stdin: bytes | None = None, timeout: float | None = 30.0,
            retry: bool = False) -> Result:
    """Run ``argv`` in the pod; the result is the *command's* (rc, stdout, stderr).

    kubectl's own failures raise: `PodGone` when the pod or its running
    container is not there, another `KubeError` otherwise (RBAC, API down).
    Transient failures are retried with backoff when the command never
    started, or at any point when ``retry`` says it is read-only (the
    success path is still one kubectl process).
    """
    attempt = 0
    while True:
        try:
            return _exec_once(settings, pod, container, argv, stdin, timeout)
        except KubeUnavailable as error:
            # "Error from server" is the API refusing the pod lookup or the upgrade: the
            # command never started, so even a write is safe to send again.
            before_start = "Error from server" in str(error)
            if not (retry or before_start) or attempt >= len(BACKOFF):
                raise
        time.sleep(BACKOFF[attempt])
        attempt += 1


def _exec_once(settings: KubeSettings, pod: str, container: str, argv: Sequence[str],
               stdin: bytes | None, timeout: float | None) -> Result:
    full = exec_argv(settings, pod, container, argv, stdin=stdin is not None)
    result = spawn(full, pod=pod, stdin=stdin, timeout=timeout)
    code = remote_exit_code(result)
    if code is not None:
        return Result(code, result.out, strip_exit_marker(result.err))
    text = result.err.decode("utf-8", "replace")
    error = classify(text, action=f"exec in pod {pod}", rc=result.rc)
    low = text.lower()
    if isinstance(error, KubeNotFound) or any(marker in low for marker in NOT_RUNNING):
        raise PodGone(str(error))
    raise error
