"""`doctor`: one line per check, then an overall verdict (exit 1 if any fails); ``--json``."""

from __future__ import annotations

import os
import shutil

from providers.kube.client import AccessCheck

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.human import Doctor

#: What gc-beads-k8s needs in its namespace (kubectl ≥1.31 execs with ``get``); the
#: configmaps verbs keep the scope registry `init` writes (`scope_init.record_scope`).
REQUIRED_ACCESS = (
    AccessCheck("get", "pods"), AccessCheck("list", "pods"), AccessCheck("watch", "pods"),
    AccessCheck("create", "pods"), AccessCheck("delete", "pods"),
    AccessCheck("create", "pods", "exec"), AccessCheck("get", "pods", "exec"),
    AccessCheck("get", "configmaps"), AccessCheck("create", "configmaps"),
    AccessCheck("patch", "configmaps"),
)


def run_doctor(report: Doctor) -> bool:
    """Run every check into ``report``; True when none failed."""
    from gc_beads_k8s import runner_pod
    from gc_beads_k8s.config import RunnerConfig, dolt_target
    from providers.kube import client, pods
    from providers.kube.errors import KubeError, KubeNotFound
    from providers.kube.kubectl import kubectl

    config = RunnerConfig.from_env()
    pod = runner_pod.resolve()
    binary = pod.settings.kubectl
    report.check(bool(shutil.which(binary) or os.access(binary, os.X_OK)), "kubectl", binary)
    report.check(bool(config.image), "GC_K8S_IMAGE", config.image or "not set (start will fail)")
    try:
        dolt = dolt_target()
        report.check(True, "dolt", f"{dolt.host}:{dolt.port}", f"dolt target for init: {dolt.host}:{dolt.port}")
    except Exception as error:  # a partial GC_DOLT_* setting
        report.check(False, "dolt", str(error), f"dolt target: {error}")
    report.add("info", "runner", f"namespace {pod.settings.namespace}, runner pod {pod.pod}, "
               f"city {pod.city or '-'}")
    try:
        kubectl(["get", "pods", "-o", "name"], settings=pod.settings, action="list pods")
        report.check(True, "cluster", "reachable", "cluster reachable")
    except KubeError as error:
        report.check(False, "cluster", str(error))
        return report.finish()
    try:
        denied = client.missing_access(REQUIRED_ACCESS, pod.settings)
        detail = ("all permissions granted" if not denied else
                  "missing " + ", ".join(c.describe() for c in denied))
        report.check(not denied, "RBAC", detail)
    except KubeNotFound:
        report.add("info", "RBAC", "the server does not answer access reviews; not checked")
    except KubeError as error:
        report.check(False, "RBAC", str(error))
    state = runner_pod.pod_state(pod)
    if state is None:
        report.add("info", "runner pod", "not running (gc start or init creates it)",
                   "runner pod not running (gc start or init creates it)")
    else:
        phase = (state.get("status") or {}).get("phase")
        ready = pods.pod_ready(state)
        report.check(ready, "runner pod", f"phase {phase}", f"runner pod phase {phase}")
        if ready:
            try:
                runner_pod.health()
                report.check(True, "bd", "runs in the runner pod", "bd runs in the runner pod")
            except Exception as error:
                report.check(False, "bd", str(error), str(error))
    return report.finish()
