"""Does the namespace exist? Listing pods in a missing one answers an empty list, so ask for it.

Used by the doctors only. ``get namespace`` needs a cluster-scoped grant the example Role
does not give; when it is forbidden, a server-side dry run of a pod create (what `start`
does) answers instead: the API server's namespace admission refuses it with NotFound.
"""

from __future__ import annotations

from providers.kube import kubectl
from providers.kube.errors import KubeForbidden, KubeNotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.settings import KubeSettings

#: A pod create checked by the server and never stored (``--dry-run=server``); it meets the
#: "restricted" Pod Security Standard, so a namespace that enforces it admits it too.
DRY_RUN_POD = (
    '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gc-doctor-dry-run", '
    '"namespace": "NAMESPACE"}, "spec": {"securityContext": {"runAsNonRoot": true, '
    '"runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}}, '
    '"containers": [{"name": "c", "image": "busybox", "securityContext": '
    '{"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}}'
)
#: Refusals that come from admission, after the namespace lookup: the namespace exists.
ADMISSION_REFUSALS = ("violates PodSecurity", "admission webhook", "exceeded quota")


class NamespaceMissing(Exception):
    """The namespace does not exist; the message says how to fix it."""


def check_exists(settings: KubeSettings) -> str:
    """How the namespace was found to exist; `NamespaceMissing` when it does not."""
    ns = settings.namespace
    missing = NamespaceMissing(f"namespace {ns!r} does not exist "
                               f"(create it: kubectl create namespace {ns}, or set GC_K8S_NAMESPACE)")
    try:
        kubectl.kubectl(["get", "namespace", ns, "-o", "name"], settings=settings,
                        action=f"get namespace {ns}")
        return f"{ns} (exists)"
    except KubeNotFound:
        raise missing from None
    except KubeForbidden:
        pass
    try:
        kubectl.kubectl(["create", "--dry-run=server", "-o", "name", "-f", "-"], settings=settings,
                        stdin=DRY_RUN_POD.replace("NAMESPACE", ns).encode(),
                        action="create pods (dry run)")
    except KubeNotFound:
        raise missing from None
    except KubeForbidden as refused:
        if not any(reason in str(refused) for reason in ADMISSION_REFUSALS):
            raise
        return f"{ns} (exists: admission judged a dry-run pod create)"
    return f"{ns} (exists: a dry-run pod create was admitted)"
