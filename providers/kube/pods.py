"""What a pod's status says: ready, waiting and why, stuck for good (pure data, stdlib only)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Obj = dict[str, Any]

#: Container waiting reasons that will not fix themselves: a start fails fast on them.
FATAL_WAITING = frozenset({
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
})


def phase(pod: Obj | None) -> str:
    return str(((pod or {}).get("status") or {}).get("phase") or "")


def pod_ready(pod: Obj | None) -> bool:
    """Running, Ready and not being deleted."""
    if not pod or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def waiting_reason(pod: Obj | None) -> str:
    """The first waiting container's reason and message (``ErrImagePull: …``)."""
    if not pod:
        return ""
    status = pod.get("status") or {}
    for container in (*(status.get("initContainerStatuses") or []),
                      *(status.get("containerStatuses") or [])):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            message = waiting.get("message") or ""
            return f"{waiting['reason']}: {message}".rstrip(": ")
    return ""


def fatal_waiting(pod: Obj | None) -> str:
    """The waiting reason when it will not fix itself, else ``""``."""
    reason = waiting_reason(pod)
    return reason if reason.split(":", 1)[0] in FATAL_WAITING else ""
