"""kubectl, one process per call: argv building, failure classification, retries.

Hot paths use this module, so it imports only the standard library and
`protocol` (`protocol.proc.run`: posix_spawn + memfds, no `subprocess`).
Arguments always travel as argv, never through a shell string.
"""

from __future__ import annotations

import os
import time

from protocol.proc import Result, Timeout, run
from providers.kube.classify import classify
from providers.kube.errors import KubectlMissing, KubeTimeout, KubeUnavailable
from providers.kube.settings import KubeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

#: Pauses between attempts of an idempotent call on a transient failure.
BACKOFF = (0.25, 0.75, 1.5)
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


def spawn(argv: list[str], stdin: bytes | None = None, timeout: float | None = None) -> Result:
    """One kubectl process; `KubeTimeout` past ``timeout``, `KubectlMissing` when absent."""
    try:
        result = run(argv, stdin=stdin, env=kubectl_env(), timeout=timeout, new_group=True)
    except Timeout as error:
        raise KubeTimeout(f"kubectl {' '.join(a for a in argv[1:6] if not a.startswith('-'))}: "
                          f"{error}") from None
    if result.rc == 127 and not result.out:
        raise KubectlMissing(
            f"cannot run {argv[0]!r}: {result.error_text() or 'not found on PATH'}"
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
    process: Callable[[list[str], bytes | None, float | None], Result] | None = None,
) -> Result:
    """Run ``kubectl <args>`` and return the result, or raise a `KubeError`.

    A transient failure (`KubeUnavailable`) is retried with backoff when
    ``idempotent`` is true, as long as ``deadline`` (a `time.monotonic` value)
    allows. ``timeout`` bounds each process (default: request timeout + 5 s).
    ``process`` runs each attempt (default `spawn`; a caller may wrap it, e.g. to audit).
    """
    process = process or spawn
    settings = settings or KubeSettings.from_env()
    argv = [*base_argv(settings), *args]
    what = action or " ".join(args[:3])
    per_call = timeout if timeout is not None else settings.request_timeout + 5
    attempt = 0
    while True:
        result = process(argv, stdin, per_call)
        if result.ok:
            return result
        error = classify(result.err.decode("utf-8", "replace"), action=what, rc=result.rc)
        pause = BACKOFF[attempt] if attempt < len(BACKOFF) else None
        late = deadline is not None and pause is not None and time.monotonic() + pause > deadline
        if not (idempotent and isinstance(error, KubeUnavailable)) or pause is None or late:
            raise error
        time.sleep(pause)
        attempt += 1


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


def exec_in_pod(
    pod: str,
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    container: str = "",
    settings: KubeSettings | None = None,
    timeout: float | None = 30.0,
    retry: bool = False,
) -> Result:
    """Run ``argv`` in ``pod`` via ``kubectl exec``; return the *command's* result.

    ``Result.rc`` is the container command's own exit code, and ``Result.err``
    its stderr (kubectl's trailer removed). Failures of kubectl itself (pod
    missing, RBAC, API down) raise a `KubeError` instead, so a caller can tell
    "the command said no" from "the cluster said no". ``retry`` re-runs a
    command that is safe to repeat after a transient failure.
    """
    settings = settings or KubeSettings.from_env()
    args = ["exec"]
    if stdin is not None:
        args.append("-i")
    args.append(pod)
    if container:
        args += ["-c", container]
    args += ["--", *argv]
    full = [*base_argv(settings, request_timeout=False), *args]
    attempt = 0
    while True:
        result = spawn(full, stdin, timeout)
        code = remote_exit_code(result)
        if code is not None:
            return Result(code, result.out, strip_exit_marker(result.err))
        error = classify(result.err.decode("utf-8", "replace"), action=f"exec in pod {pod}",
                         rc=result.rc)
        if not (retry and isinstance(error, KubeUnavailable)) or attempt >= len(BACKOFF):
            raise error
        time.sleep(BACKOFF[attempt])
        attempt += 1
