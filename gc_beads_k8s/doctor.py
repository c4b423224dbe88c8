"""`doctor`: one line per check, then an overall verdict (exit 1 if any fails); ``--json``."""

from __future__ import annotations

from providers.kube.client import AccessCheck

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gc_beads_k8s.config import DoltTarget
    from gc_beads_k8s.runner_pod import Runner
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
    from providers.kube.namespace import NamespaceMissing, check_exists

    config = RunnerConfig.from_env()
    pod = runner_pod.resolve()
    check_kubectl(report, pod.settings.kubectl)
    report.check(bool(config.image), "GC_K8S_IMAGE", config.image or "not set (start will fail)")
    dolt: DoltTarget | None = None
    try:
        dolt = dolt_target()
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
        report.check(True, "namespace", check_exists(pod.settings))
    except (NamespaceMissing, KubeError) as error:
        report.check(False, "namespace", str(error))
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
    ready = False
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
    if dolt is not None:
        check_dolt(report, dolt, pod if ready else None)
    return report.finish()


def check_kubectl(report: Doctor, binary: str) -> None:
    """``kubectl version --client``: the binary the operations run answers, not merely exists."""
    from providers.kube.kubectl import spawn

    try:
        res = spawn([binary, "version", "--client", "-o", "yaml"], timeout=20)
    except Exception as error:  # not found, not executable
        report.check(False, "kubectl", f"{binary}: {error}")
        return
    version = next((line.split(":", 1)[1].strip() for line in res.text().splitlines()
                    if line.strip().startswith("gitVersion:")), "")
    if not res.ok or not version:
        report.check(False, "kubectl", f"{binary} version --client: "
                     f"{res.error_text() or f'exit {res.rc}, no version printed'}")
        return
    report.check(True, "kubectl", f"{binary} ({version})")


#: Run in the runner pod with the host and port: 3 when the host does not resolve there,
#: 4 when nothing answers on the port, 5 when the image lacks getent or bash to tell.
DOLT_PROBE = """h=$1 p=$2
command -v getent >/dev/null 2>&1 || exit 5
getent hosts "$h" >/dev/null 2>&1 || getent ahosts "$h" >/dev/null 2>&1 || exit 3
command -v bash >/dev/null 2>&1 || exit 5
timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$p" 2>/dev/null || exit 4
"""


def check_dolt(report: Doctor, dolt: DoltTarget, pod: Runner | None) -> None:
    """The Dolt server `init` points bd at, checked from where bd reaches it: the runner pod."""
    import os

    from gc_beads_k8s.bd import CONTAINER
    from providers.kube.pod_exec import exec_in_pod

    where = f"{dolt.host}:{dolt.port}"
    source = ("GC_DOLT_HOST/PORT" if os.environ.get("GC_DOLT_HOST") else
              "GC_K8S_DOLT_HOST/PORT" if os.environ.get("GC_K8S_DOLT_HOST") else "default")
    if pod is None:
        report.add("info", "dolt", f"{where} ({source}); not checked: bd reaches it from the "
                   "runner pod, which is not ready", f"dolt target {where} ({source}) not checked: "
                   "bd reaches it from the runner pod, which is not ready")
        return
    try:
        res = exec_in_pod(pod.pod, ["sh", "-c", DOLT_PROBE, "sh", dolt.host, dolt.port],
                          container=CONTAINER, settings=pod.settings, timeout=20, retry=True)
    except Exception as error:
        report.add("warn", "dolt", f"{where} ({source}): not checked: {error}")
        return
    found = {
        0: ("ok", f"{where} ({source}) answers from runner pod {pod.pod}"),
        3: ("warn", (f"{where} ({source}): {dolt.host} does not resolve in runner pod {pod.pod} "
                     "(init will fail unless bd reaches it another way)")),
        4: ("warn", (f"{where} ({source}): {dolt.host} resolves in runner pod {pod.pod}, but "
                     f"nothing answers on port {dolt.port}")),
        5: ("info", f"{where} ({source}): not checked: the runner image has no getent or bash"),
    }.get(res.rc, ("warn", f"{where} ({source}): the check exited {res.rc}: {res.error_text()}"))
    report.add(found[0], "dolt", found[1], f"dolt target {found[1]}")
