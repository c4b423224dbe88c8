"""`stop`: one synchronous, bounded ``kubectl delete``.

PID 1 exits at once on TERM (it kills the tmux server first), so a short
grace period costs nothing; ``--wait`` makes the call return only once the
pod is gone, so an immediate `is-running` reads false. Idempotent: a missing
pod is success. A pod that outlives the wait is force-deleted.
"""

from __future__ import annotations

from providers.kube.errors import KubeTimeout
from providers.kube.kubectl import kubectl
from providers.kube.transport.answers import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.settings import KubeSettings

GRACE = "--grace-period=3"
WAIT = "--timeout=10s"


def stop(settings: KubeSettings, pod: str) -> None:
    try:
        kubectl(["delete", "pod", pod, "--ignore-not-found", GRACE, "--wait=true", WAIT],
                settings=settings, pod=pod, timeout=settings.request_timeout + 15,
                action=f"delete pod {pod}")
    except KubeTimeout:
        kubectl(["delete", "pod", pod, "--ignore-not-found", "--grace-period=0", "--force",
                 "--wait=true", "--timeout=5s"], settings=settings, pod=pod,
                action=f"force-delete pod {pod}")
    finally:
        mark(settings.namespace, pod)  # an is-running after the stop must not be answered from before it
