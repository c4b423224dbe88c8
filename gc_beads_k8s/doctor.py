"""`doctor`: one line per check, then an overall verdict (exit 1 if any fails)."""

from __future__ import annotations

import os
import shutil

from providers.kube.client import AccessCheck

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

#: What gc-beads-k8s needs in its namespace (kubectl ≥1.31 execs with ``get``).
REQUIRED_ACCESS = (
    AccessCheck("get", "pods"), AccessCheck("list", "pods"), AccessCheck("watch", "pods"),
    AccessCheck("create", "pods"), AccessCheck("delete", "pods"),
    AccessCheck("create", "pods", "exec"), AccessCheck("get", "pods", "exec"),
)


def run_doctor(say: Callable[[str], None]) -> bool:
    from gc_beads_k8s import runner_pod
    from gc_beads_k8s.config import RunnerConfig, dolt_target
    from providers.kube import client, pods
    from providers.kube.errors import KubeError, KubeNotFound
    from providers.kube.kubectl import kubectl

    ok = True

    def check(passed: bool, message: str) -> None:
        nonlocal ok
        ok = ok and passed
        say(("ok    " if passed else "FAIL  ") + message)

    config = RunnerConfig.from_env()
    pod = runner_pod.resolve()
    binary = pod.settings.kubectl
    check(bool(shutil.which(binary) or os.access(binary, os.X_OK)), f"kubectl: {binary}")
    check(bool(config.image), f"GC_K8S_IMAGE: {config.image or 'not set (start will fail)'}")
    try:
        dolt = dolt_target()
        check(True, f"dolt target for init: {dolt.host}:{dolt.port}")
    except Exception as error:  # a partial GC_DOLT_* setting
        check(False, f"dolt target: {error}")
    say(f"info  namespace {pod.settings.namespace}, runner pod {pod.pod}, city {pod.city or '-'}")
    try:
        kubectl(["get", "pods", "-o", "name"], settings=pod.settings,
                action="list pods")
        check(True, "cluster reachable")
    except KubeError as error:
        check(False, f"cluster: {error}")
        return False
    try:
        denied = client.missing_access(REQUIRED_ACCESS, pod.settings)
        check(not denied, "RBAC: " + ("all permissions granted" if not denied else
                                      "missing " + ", ".join(c.describe() for c in denied)))
    except KubeNotFound:
        say("info  RBAC: the server does not answer access reviews; not checked")
    except KubeError as error:
        check(False, f"RBAC: {error}")
    state = runner_pod.pod_state(pod)
    if state is None:
        say("info  runner pod not running (gc start or init creates it)")
    else:
        phase = (state.get("status") or {}).get("phase")
        check(pods.pod_ready(state), f"runner pod phase {phase}")
        if pods.pod_ready(state):
            try:
                runner_pod.health()
                check(True, "bd runs in the runner pod")
            except Exception as error:
                check(False, str(error))
    say("all checks passed" if ok else "some checks failed")
    return ok
