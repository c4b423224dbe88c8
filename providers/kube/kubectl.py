"""kubectl, one process per call: argv, classification, retries, audit; and the kubectl
transport of `providers.kube.pod_exec`.

Hot paths use this module, so it imports only the standard library and
`protocol` (`protocol.proc.run`: posix_spawn + memfds, no `subprocess`).
Arguments always travel as argv, never through a shell string.
"""

from __future__ import annotations

import os
import time

from protocol.proc import Detached, Result, Timeout, run
from providers.kube import audit
from providers.kube.classify import classify, exec_failure
from providers.kube.errors import KubectlMissing, KubeTimeout, KubeUnavailable
from providers.kube.retry import with_retries
from providers.kube.settings import KubeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from providers.kube.transport.interface import ExecRequest

EXIT_MARKER = "command terminated with exit code "


def base_argv(settings: KubeSettings, *, request_timeout: bool = True) -> list[str]:
    """``kubectl [--request-timeout=Ns] [--context C] -n NS``."""
    argv = [settings.kubectl]
    if request_timeout:
        argv.append(f"--request-timeout={settings.request_timeout:g}s")
    if settings.context:
        argv.append(f"--context={settings.context}")
    argv += ["-n", settings.namespace]
    return argv


#: kubectl is a short-lived Go program whose start-up (API scheme registration) allocates
#: enough to trigger several garbage collections: ~8 ms of a ~45 ms call, measured. With the
#: collector off below a memory ceiling (Go's documented GOGC=off + GOMEMLIMIT pairing) a call
#: never collects, and a long stream (copy-to, sync) still collects near the ceiling.
GO_RUNTIME = {"GOGC": "off", "GOMEMLIMIT": "256MiB"}


def kubectl_env() -> dict[str, str] | None:
    """The environment for a kubectl process (None: inherit ours unchanged).

    A user who tunes the Go runtime (either variable set) keeps their setting.
    """
    if "GOGC" in os.environ or "GOMEMLIMIT" in os.environ:
        return None
    return {**os.environ, **GO_RUNTIME}


def spawn(argv: list[str], stdin: bytes | None = None, timeout: float | None = None, *,
          pod: str = "", detach_after: float | None = None) -> Result:
    """One kubectl process, recorded in the audit log whatever the outcome.

    `KubeTimeout` past ``timeout``; `KubectlMissing` only when kubectl itself could
    not be started (an exec whose *remote* command exits 127 is the command's result).
    With ``detach_after``, `protocol.proc.Detached` when kubectl outlives it: it runs
    on, in its own process group, and its audit line says ``"detached": true``.
    """
    from protocol import metrics

    metrics.count(metrics.KUBECTL_SPAWNS)
    started = time.monotonic()
    rc = -1
    detached = False
    try:
        try:
            result = run(argv, stdin=stdin, env=kubectl_env(), timeout=timeout, new_group=True,
                         detach_after=detach_after)
        except Timeout as error:
            raise KubeTimeout(f"kubectl {' '.join(a for a in argv[1:6] if not a.startswith('-'))}: "
                              f"{error}") from None
        except Detached:
            detached = True
            raise
        rc = result.rc
    finally:
        audit.record(argv, pod=pod, started=started, rc=rc, detached=detached)
    if result.rc == 127 and not result.out and result.err.startswith(argv[0].encode() + b": "):
        raise KubectlMissing(
            f"cannot run {argv[0]!r}: {result.error_text().partition(': ')[2] or 'not found on PATH'}"
            " (install kubectl or set GC_KUBECTL)"
        )
    return result


def kubectl(
    args: Sequence[str],
    *,
    settings: KubeSettings | None = None,
    stdin: bytes | None = None,
    action: str = "",
    idempotent: bool = True,
    timeout: float | None = None,
    deadline: float | None = None,
    pod: str = "",
    detach_after: float | None = None,
) -> Result:
    """Run ``kubectl <args>`` and return the result, or raise a `KubeError`.

    Retried under the one policy (`providers.kube.retry`) as long as ``deadline``
    (a `time.monotonic` value) allows. ``timeout`` bounds each process (default:
    request timeout + 5 s). ``pod`` names the pod concerned in the audit log.
    ``detach_after``: the time all attempts together may be waited for (see `spawn`); a
    kubectl left running is not retried, and no retry starts after it.
    """
    settings = settings or KubeSettings.from_env()
    argv = [*base_argv(settings), *args]
    what = action or " ".join(args[:3])
    per_call = timeout if timeout is not None else settings.request_timeout + 5

    until = None if detach_after is None else time.monotonic() + detach_after

    def attempt() -> Result:
        left = None if until is None else max(0.0, until - time.monotonic())
        result = spawn(argv, stdin, per_call, pod=pod, detach_after=left)
        if result.ok:
            return result
        raise classify(result.err.decode("utf-8", "replace"), action=what, rc=result.rc)

    if until is not None:  # no retry starts past the time we may wait
        deadline = until if deadline is None else min(deadline, until)
    return with_retries(attempt, idempotent=idempotent, deadline=deadline)


def get_json(
    kind: str, name: str, *, settings: KubeSettings | None = None, deadline: float | None = None
) -> dict[str, Any]:
    """``kubectl get KIND NAME -o json`` parsed (raises `KubeNotFound` when missing)."""
    import orjson

    result = kubectl(["get", kind, name, "-o", "json"], settings=settings, deadline=deadline,
                     action=f"get {kind} {name}")
    data = orjson.loads(result.out)
    if not isinstance(data, dict):
        raise KubeUnavailable(f"get {kind} {name}: kubectl printed no object")
    return data


def remote_exit_code(result: Result) -> int | None:
    """The container command's exit code when kubectl reports one, else None.

    kubectl exits with the remote status and prints
    ``command terminated with exit code N`` on stderr; any other non-zero
    exit is kubectl's own failure.
    """
    if result.rc == 0:
        return 0
    tail = result.err.rstrip().rsplit(b"\n", 1)[-1].decode("utf-8", "replace").strip()
    if tail.startswith(EXIT_MARKER) and tail[len(EXIT_MARKER) :].isdigit():
        return int(tail[len(EXIT_MARKER) :])
    return None


def strip_exit_marker(err: bytes) -> bytes:
    """Remote stderr without kubectl's trailing "command terminated…" line."""
    body, _, tail = err.rstrip(b"\n").rpartition(b"\n")
    if tail.startswith(EXIT_MARKER.encode()):
        return body + b"\n" if body else b""
    if not body and err.startswith(EXIT_MARKER.encode()):
        return b""
    return err


def exec_argv(settings: KubeSettings, pod: str, container: str, argv: Sequence[str], *,
              stdin: bool = False, tty: bool = False) -> list[str]:
    """``kubectl … exec [-i] [-t] POD -c CONTAINER -- ARGV`` (also for attach-like uses)."""
    args = [*base_argv(settings, request_timeout=False), "exec"]
    if stdin:
        args.append("-i")
    if tty:
        args.append("-t")
    args.append(pod)
    if container:
        args += ["-c", container]
    return [*args, "--", *argv]


class KubectlExec:
    """The transport that always runs: one ``kubectl exec`` process per attempt."""

    name = "kubectl"
    retries_itself = False
    audits_itself = True  # `spawn` records every kubectl process

    def run(self, request: ExecRequest) -> Result:
        full = exec_argv(request.settings, request.pod, request.container, request.argv,
                         stdin=request.stdin is not None)
        result = spawn(full, request.stdin, request.timeout, pod=request.pod)
        code = remote_exit_code(result)
        if code is not None:
            return Result(code, result.out, strip_exit_marker(result.err))
        raise exec_failure(result.err.decode("utf-8", "replace"), request.pod, result.rc)


TRANSPORT = KubectlExec()
