"""Find a session's pod and its work dir, and run commands in its agent container.

The pod is found by its labels (``app=gc-agent``, ``gc-session=<label>``, plus
``gc-city`` when ``GC_K8S_CITY`` is set) and must carry the exact session name
in its ``gc-session-name`` annotation, so sanitized names that collide never
pick the wrong pod. The work dir is the agent container's ``workingDir``.
"""

from __future__ import annotations

import os

from gc_session_k8s.naming import AGENT_CONTAINER, NAME_ANNOTATION, SESSION_LABEL, list_selector
from gc_session_k8s.pod.environment import WORKSPACE
from protocol.errors import ProviderError
from protocol.sanitize import sanitize_label
from providers.kube.kubectl import kubectl
from providers.kube.pod_exec import exec_in_pod
from providers.kube.settings import KubeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from protocol.proc import Result



class PodRef:
    """The running pod of a session: its name and the agent's work dir in it."""

    __slots__ = ("name", "settings", "work_dir")

    def __init__(self, name: str, work_dir: str, settings: KubeSettings) -> None:
        self.name = name
        self.work_dir = work_dir
        self.settings = settings

    def exec(self, argv: list[str], *, timeout: float) -> Result:
        """Run ``argv`` in the agent container; the command's own exit code comes back."""
        return exec_in_pod(self.name, argv, container=AGENT_CONTAINER, settings=self.settings,
                           timeout=timeout)


def _work_dir(pod: dict[str, Any]) -> str:
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") == AGENT_CONTAINER:
            return str(container.get("workingDir") or WORKSPACE)
    return WORKSPACE


def _is_live(pod: dict[str, Any]) -> bool:
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    return not deleting and (pod.get("status") or {}).get("phase") == "Running"


def find_session_pod(session: str, *, work_dir: str = "",
                     settings: KubeSettings | None = None) -> PodRef:
    """The live pod labelled for ``session`` whose annotation names it exactly."""
    import orjson

    settings = settings or KubeSettings.from_env()
    selector = f"{list_selector(os.environ.get('GC_K8S_CITY', ''))},{SESSION_LABEL}={sanitize_label(session)}"
    listing = orjson.loads(kubectl(["get", "pods", "-l", selector, "-o", "json"],
                                   settings=settings, action=f"list pods {selector}").out)
    pods = [
        pod for pod in listing.get("items") or []
        if ((pod.get("metadata") or {}).get("annotations") or {}).get(NAME_ANNOTATION, session)
        == session
    ]
    live = [pod for pod in pods if _is_live(pod)]
    if not live:
        where = f"namespace {settings.namespace!r}"
        if pods:
            phase = (pods[0].get("status") or {}).get("phase") or "unknown"
            raise ProviderError(f"the pod of session {session!r} in {where} is not running "
                                f"(phase {phase}); start the session first")
        raise ProviderError(f"no pod for session {session!r} in {where}")
    if len(live) > 1:
        names = ", ".join(sorted(str(pod["metadata"]["name"]) for pod in live))
        raise ProviderError(f"several pods run session {session!r} ({names}); set GC_K8S_CITY "
                            "to the city whose pod to sync")
    pod = live[0]
    return PodRef(str(pod["metadata"]["name"]), work_dir or _work_dir(pod), settings)
