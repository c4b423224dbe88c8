"""Pod object shaping: API-server defaults and a complete, schema-valid status.

The `kubernetes` Python client (37) validates models strictly, so every
status field it requires is always present and typed as a real server sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.conformance.fakekube.store import now_iso

NODE_NAME = "fakekube-node"
HOST_IP = "127.0.0.1"


def apply_defaults(pod: dict[str, Any]) -> None:
    spec = pod["spec"]
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec["nodeName"] = spec.get("nodeName") or NODE_NAME
    spec.setdefault("tolerations", [])
    for c in [*spec.get("initContainers", []), *spec["containers"]]:
        image = str(c.get("image", ""))
        tagged = ":" in image.rsplit("/", 1)[-1]
        latest = not tagged or image.endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
    pod.setdefault("status", {})
    pod["status"] = {"phase": "Pending", "qosClass": _qos(spec)}


def _qos(spec: dict[str, Any]) -> str:
    res = [c.get("resources") or {} for c in spec["containers"]]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    if all(r.get("limits") and r.get("requests", r.get("limits")) == r.get("limits") for r in res):
        return "Guaranteed"
    return "Burstable"


@dataclass
class ContainerState:
    """What the fake kubelet knows about one container."""

    name: str
    image: str
    init: bool
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "PodInitializing"
    message: str = ""
    exit_code: int = 0
    started_at: str = ""
    finished_at: str = ""
    restart_count: int = 0
    container_id: str = ""
    last_terminated: dict[str, Any] = field(default_factory=dict)

    def run(self, container_id: str) -> None:
        self.state, self.reason, self.message = "running", "", ""
        self.started_at = now_iso()
        self.container_id = container_id

    def wait(self, reason: str, message: str = "") -> None:
        self.state, self.reason, self.message = "waiting", reason, message

    def terminate(self, code: int, reason: str | None = None) -> None:
        if self.state == "terminated":
            return
        self.state = "terminated"
        self.exit_code = code
        self.reason = reason or ("Completed" if code == 0 else "Error")
        self.finished_at = now_iso()
        self.started_at = self.started_at or self.finished_at

    def to_status(self) -> dict[str, Any]:
        state: dict[str, Any]
        if self.state == "running":
            state = {"running": {"startedAt": self.started_at}}
        elif self.state == "terminated":
            term: dict[str, Any] = {
                "exitCode": self.exit_code,
                "reason": self.reason,
                "startedAt": self.started_at,
                "finishedAt": self.finished_at,
            }
            if self.container_id:
                term["containerID"] = self.container_id
            state = {"terminated": term}
        else:
            waiting: dict[str, Any] = {"reason": self.reason}
            if self.message:
                waiting["message"] = self.message
            state = {"waiting": waiting}
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.state == "running" and not self.init,
            "restartCount": self.restart_count,
            "started": self.state == "running",
            "state": state,
            "lastState": {"terminated": self.last_terminated} if self.last_terminated else {},
        }
        if self.container_id:
            status["containerID"] = self.container_id
            status["imageID"] = "fakekube://" + self.image
        return status


def build_status(
    pod: dict[str, Any],
    phase: str,
    init: list[ContainerState],
    main: list[ContainerState],
    *,
    reason: str = "",
    message: str = "",
    scheduled: bool = True,
) -> dict[str, Any]:
    old = pod.get("status") or {}
    now = now_iso()
    initialized = all(c.state == "terminated" and c.exit_code == 0 for c in init)
    ready = phase == "Running" and bool(main) and all(c.state == "running" for c in main)

    def cond(type_: str, ok: bool, why: str = "") -> dict[str, Any]:
        # Keep lastTransitionTime stable while the condition does not change.
        prev = next((c for c in old.get("conditions", []) if c.get("type") == type_), None)
        value = "True" if ok else "False"
        changed = prev is None or prev.get("status") != value
        c: dict[str, Any] = {
            "type": type_,
            "status": value,
            "lastProbeTime": None,
            "lastTransitionTime": now if changed else prev["lastTransitionTime"],  # type: ignore[index]
        }
        if not ok and why:
            c["reason"] = why
        return c

    not_ready_why = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
    conditions = [
        cond("PodReadyToStartContainers", (scheduled and phase != "Pending") or (bool(init) and scheduled)),
        cond("Initialized", initialized, "ContainersNotInitialized"),
        cond("Ready", ready, not_ready_why),
        cond("ContainersReady", ready, not_ready_why),
        cond("PodScheduled", scheduled),
    ]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": HOST_IP,
        "podIPs": [{"ip": HOST_IP}],
        "startTime": old.get("startTime") or now,
        "qosClass": old.get("qosClass", "BestEffort"),
        "containerStatuses": [c.to_status() for c in main],
    }
    if init:
        status["initContainerStatuses"] = [c.to_status() for c in init]
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return status
