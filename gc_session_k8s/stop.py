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
from protocol.errors import ProviderError
from providers.kube.errors import KubeError, KubeTimeout
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
    """``environ``: gc's environment for this stop (the session's tunnel to end, the
    transcripts to bring back); None for a stop made inside another op."""
    if environ is not None:
        from gc_session_k8s import ledger

        ledger.end(environ, settings, pod, session, forget_log=True)  # its tunnel, if any
    try:
        if environ:
            try:
                copy_transcripts(settings, pod, session, environ)
            except (ProviderError, KubeError) as error:  # the pod is deleted all the same
                sys.stderr.write(f"warning: {error}\n")
        if not delete(settings, pod, f"{KEY_LABEL}={session_key(session)}"):
            stop_unlabelled(settings, pod, session)
    finally:
        mark(settings.namespace, pod)  # an is-running after the stop must not be answered from before it


#: ``$1`` (the pod's ``GC_TRANSCRIPTS_SRC``) as a tar stream; exit 3 when it is not there.
TRANSCRIPTS_SCRIPT = '[ -d "$1" ] || exit 3; exec tar -C "$1" -cf - .'


def copy_transcripts(settings: KubeSettings, pod: str, session: str,
                     environ: Mapping[str, str]) -> None:
    """env.transcripts: ``$GC_TRANSCRIPTS_SRC`` in the session's pod arrives in
    ``$GC_TRANSCRIPTS_DEST`` on the controller, as one tar stream over one exec (as `sync`
    brings a work dir back) unpacked by its contained unpack: a link out of the tree or an
    absolute path is left out. No pod, not this session's pod, no such directory: nothing."""
    import os

    from gc_session_k8s.naming import AGENT_CONTAINER
    from gc_session_k8s.pod_runner import foreign, guarded
    from providers.kube.errors import PodGone
    from providers.kube.pod_exec import exec_in_pod

    src = environ.get("GC_TRANSCRIPTS_SRC") or ""
    dest = environ.get("GC_TRANSCRIPTS_DEST") or ""
    if not src or not dest:
        return
    if not os.path.isabs(dest):
        raise ProviderError(f"GC_TRANSCRIPTS_DEST must be an absolute path: {dest!r}")
    try:
        res = exec_in_pod(pod, guarded(["sh", "-c", TRANSCRIPTS_SCRIPT, "sh", src], session),
                          container=AGENT_CONTAINER, settings=settings, timeout=120, retry=True)
    except PodGone:
        return
    if foreign(res) or res.rc == 3:
        return
    if not res.ok:
        raise ProviderError(f"transcripts: tar of {src} in pod {pod}: "
                            f"{res.error_text() or f'exit {res.rc}'}")
    from gc_session_k8s.sync.files import unpack

    os.makedirs(dest, exist_ok=True)
    unpack(res.out, dest, f"transcripts: cannot unpack {src} of pod {pod}", skip_unsafe=True)


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
