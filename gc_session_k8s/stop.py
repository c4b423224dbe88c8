"""`stop`: one synchronous, bounded ``kubectl delete`` of the session's own pod.

PID 1 exits at once on TERM (it kills the tmux server first), so a short
grace period costs nothing; ``--wait`` makes the call return only once the
pod is gone, so an immediate `is-running` reads false. Idempotent: a missing
pod is success. A pod that outlives the wait is force-deleted.

Only the session's own pod is deleted: the call selects the pod by name *and* by the
label that names the session exactly (`naming.KEY_LABEL`), so a pod that another name
maps to (a hash collision of pod names) is, for this session, no pod at all. A pod made
before that label existed is read first and deleted only if its ``gc-session-name``
annotation is this session.
"""

from __future__ import annotations

import sys

from gc_session_k8s.naming import KEY_LABEL, NAME_ANNOTATION, session_key
from providers.kube.errors import KubeTimeout
from providers.kube.kubectl import kubectl
from providers.kube.transport.answers import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers.kube.settings import KubeSettings

GRACE = "--grace-period=3"
WAIT = "--timeout=10s"
OWNER = ("jsonpath={.metadata.name}{'\\t'}{.metadata.annotations." + NAME_ANNOTATION
         + "}{'\\t'}{.metadata.labels." + KEY_LABEL + "}")


def stop(settings: KubeSettings, pod: str, session: str,
         environ: Mapping[str, str] | None = None) -> None:
    if environ is not None:
        from gc_session_k8s import ledger

        ledger.end(environ, settings, pod, session, forget_log=True)  # its tunnel, if any
    try:
        if not delete(settings, pod, f"{KEY_LABEL}={session_key(session)}"):
            stop_unlabelled(settings, pod, session)
    finally:
        mark(settings.namespace, pod)  # an is-running after the stop must not be answered from before it


def delete(settings: KubeSettings, pod: str, selector: str) -> bool:
    """Delete ``pod`` if it carries ``selector``; whether it did."""
    where = ["--field-selector", f"metadata.name={pod}"] if selector else [pod]
    what = ["pods", "-l", selector] if selector else ["pod"]
    try:
        res = kubectl(["delete", *what, *where, "--ignore-not-found", GRACE, "--wait=true",
                       WAIT], settings=settings, pod=pod, timeout=settings.request_timeout + 15,
                      action=f"delete pod {pod}")
    except KubeTimeout:
        res = kubectl(["delete", *what, *where, "--ignore-not-found", "--grace-period=0",
                       "--force", "--wait=true", "--timeout=5s"], settings=settings, pod=pod,
                      action=f"force-delete pod {pod}")
    return b"deleted" in res.out


def stop_unlabelled(settings: KubeSettings, pod: str, session: str) -> None:
    """No pod of ours by label: delete one without `KEY_LABEL` (made before it) that is
    annotated as this session; leave anything else alone."""
    res = kubectl(["get", "pod", pod, "--ignore-not-found", "-o", OWNER], settings=settings,
                  pod=pod, action=f"get pod {pod}")
    found, tab, rest = res.out.decode("utf-8", "replace").partition("\t")
    owner, _, key = rest.partition("\t")
    if not tab or found != pod:
        return  # no such pod
    if owner == session and not key:
        delete(settings, pod, "")
    elif owner != session:
        sys.stderr.write(f"warning: pod {pod} belongs to session {owner!r}, not {session!r}; "
                         "left running\n")
