"""Run this argv in this pod: the one exec path of every provider (pods/exec).

`exec_in_pod` owns what every exec gets whichever way it travels: the order of transports
(``GC_K8S_TRANSPORT``), the one retry policy (`providers.kube.retry`), the audit line of
each attempt (`providers.kube.audit`) and the mark a write leaves on what the helper kept
of the pod (`providers.kube.transport.answers.mark`).

The transports are peers behind one small interface (`Transport`): each runs one attempt
of a request and returns the command's `Result`, raises a `KubeError` as kubectl would
word it, or raises `providers.kube.transport.interface.Fallback` to say why it cannot run this
request (nothing started), and the next one in the order runs it:

* ``helper`` (`providers.kube.transport.helper_client`): handed over a unix socket to the
  resident per-user helper;
* ``direct`` (`providers.kube.transport.direct`): HTTPS + WebSocket exec from this process;
* ``kubectl`` (`providers.kube.kubectl`): one ``kubectl exec`` process, always available.

This module imports no transport at load time: each is loaded when the order reaches it.
"""

from __future__ import annotations

import os
import time

from protocol import metrics
from protocol.proc import Result
from providers.kube import audit
from providers.kube.errors import KubeConflict, KubeForbidden, KubeInvalid, KubeNotFound
from providers.kube.retry import with_retries
from providers.kube.settings import KubeSettings
from providers.kube.transport.interface import (
    ExecRequest,
    Fallback,
    HelperAbsent,
    KubectlOnly,
    fallback_reason,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from providers.kube.transport.interface import Transport

#: The helper when it runs or can be started, else direct, else kubectl: each op takes
#: the fastest transport its kubeconfig allows and falls back silently (audited).
DEFAULT_TRANSPORT = "auto"
#: ``GC_K8S_TRANSPORT`` -> the transports tried, in order.
ORDERS: dict[str, tuple[str, ...]] = {
    "auto": ("helper", "direct", "kubectl"),
    "helper": ("helper", "direct", "kubectl"),
    "direct": ("direct", "kubectl"),
    "kubectl": ("kubectl",),
}
#: The cluster answered (no such pod, forbidden…): the transport reached it.
ANSWERED = (KubeNotFound, KubeForbidden, KubeConflict, KubeInvalid)


def transport_setting(environ: Mapping[str, str] | None = None) -> str:
    """``GC_K8S_TRANSPORT``: kubectl, direct, helper or auto (the default)."""
    return (os.environ if environ is None else environ).get("GC_K8S_TRANSPORT") or DEFAULT_TRANSPORT


def may_keep_answers(environ: Mapping[str, str] | None = None) -> bool:
    """Whether execs of this setting may go through the helper, which keeps answers for a
    moment (`providers.kube.transport.answers`)."""
    return "helper" in ORDERS.get(transport_setting(environ), ORDERS[DEFAULT_TRANSPORT])


def load(name: str) -> Transport:
    """The transport called ``name``, imported now: an op loads only those its order reaches."""
    if name == "helper":
        from providers.kube.transport import helper_client

        return helper_client.TRANSPORT
    if name == "direct":
        from providers.kube.transport import direct

        return direct.TRANSPORT
    from providers.kube import kubectl

    return kubectl.TRANSPORT


def exec_in_pod(
    pod: str,
    argv: Sequence[str],
    *,
    container: str = "",
    settings: KubeSettings | None = None,
    stdin: bytes | None = None,
    timeout: float | None = 30.0,
    retry: bool = False,
) -> Result:
    """Run ``argv`` in ``pod``: the one exec path of every provider.

    ``Result`` is the *command's* own (exit code, stdout, stderr without kubectl's
    trailer). The cluster's own failures raise instead, so a caller can tell "the command
    said no" from "the cluster said no": `PodGone` when the pod or its running container
    is not there, another `KubeError` otherwise (RBAC, API down). ``retry`` says the
    command is safe to repeat; a write is still retried when the API refused the exec
    before the command started (`providers.kube.retry`).
    """
    settings = settings or KubeSettings.from_env()
    request = ExecRequest(settings, pod, container, list(argv), stdin, timeout, retry)
    try:
        return run(request, ORDERS.get(transport_setting(), ORDERS[DEFAULT_TRANSPORT]))
    finally:
        if not retry:
            from providers.kube.transport.answers import mark

            mark(settings.namespace, pod)  # a write: what a helper kept of the pod is old


def run(request: ExecRequest, order: Sequence[str]) -> Result:
    """The first transport of ``order`` that runs ``request``; the last one never falls back
    (kubectl runs everything)."""
    start_helper: Callable[[], None] | None = None
    kubectl_only = False
    for name in order:
        if kubectl_only and name != "kubectl":
            continue
        transport = load(name)
        try:
            result = attempt(transport, request)
        except Fallback as why:
            metrics.count(metrics.FALLBACKS, transport=name, reason=fallback_reason(why))
            if isinstance(why, HelperAbsent):
                request.helper = why.reason
                start_helper = why.start
            kubectl_only = isinstance(why, KubectlOnly)
            continue
        except ANSWERED:
            metrics.count(metrics.CALLS, transport=name)
            if start_helper is not None and name != "kubectl":
                start_helper()
            raise
        except BaseException:
            metrics.count(metrics.CALLS, transport=name)
            raise
        metrics.count(metrics.CALLS, transport=name)
        if start_helper is not None and name != "kubectl":
            # Started once an exec reached the cluster: an op with nowhere to go leaves none.
            start_helper()
        return result
    raise AssertionError(f"no transport ran the exec (order {order!r})")  # kubectl is last


def attempt(transport: Transport, request: ExecRequest) -> Result:
    """``request`` through one transport, retried and audited; `Fallback` passes through
    (audited with its reason unless the helper is merely absent)."""

    def once() -> Result:
        started = time.monotonic()
        request.marks = {}
        try:
            result = transport.run(request)
        except Fallback:
            raise  # recorded once, below, with its reason
        except BaseException:
            if not transport.audits_itself:
                record(transport, request, started, -1)
            raise
        if not transport.audits_itself:
            record(transport, request, started, result.rc)
        return result

    started = time.monotonic()
    try:
        return once() if transport.retries_itself else with_retries(once, idempotent=request.retry)
    except HelperAbsent:
        raise  # nothing was asked of anyone: the next transport's lines say why
    except Fallback as why:
        audit.record(request.shown(), pod=request.pod, started=started, rc=-1,
                     transport=transport.name, fallback=why.reason,
                     helper="" if transport.name == "helper" else request.helper)
        raise


def record(transport: Transport, request: ExecRequest, started: float, rc: int) -> None:
    audit.record(request.shown(), pod=request.pod, started=started, rc=rc,
                 transport=transport.name,
                 helper="" if transport.name == "helper" else request.helper,
                 resident=bool(request.marks.get("resident")),
                 cached=bool(request.marks.get("cached")))
