"""`gc-session-k8s doctor`: is this controller ready to run sessions as pods?

Checks, each printed as one line: kubectl runs; the context resolves; the
namespace exists; every RBAC verb the provider uses is allowed
(SelfSubjectAccessReview); the image is set and well-formed. Exit 0 when all
pass, 1 otherwise; ``--json`` prints the same findings as one JSON document.
The kubernetes client is imported only here.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from protocol.human import Doctor

#: Every permission gc-session-k8s uses (examples/k8s/rbac.yaml grants exactly these).
#: kubectl >= 1.30 opens exec over a WebSocket GET, which API servers before the
#: create-for-WebSocket-exec check authorize as ``get pods/exec`` (1.37 as ``create``);
#: older kubectl POSTs (``create``): both are needed. No operation reads pod logs.
VERBS: tuple[tuple[str, str, str], ...] = (
    ("get", "pods", ""), ("list", "pods", ""), ("watch", "pods", ""), ("create", "pods", ""),
    ("delete", "pods", ""), ("create", "pods", "exec"), ("get", "pods", "exec"),
)


def check_kubectl() -> str:
    from providers.kube import kubectl
    from providers.kube.settings import KubeSettings

    settings = KubeSettings.from_env()
    res = kubectl.spawn([settings.kubectl, "version", "--client", "-o", "yaml"], timeout=20)
    if not res.ok:
        raise RuntimeError(res.error_text() or f"exit {res.rc}")
    for line in res.text().splitlines():
        if line.strip().startswith("gitVersion:"):
            return line.split(":", 1)[1].strip()
    return "runs"


def check_context() -> str:
    from providers.kube import kubectl
    from providers.kube.settings import KubeSettings

    settings = KubeSettings.from_env()
    if settings.context:
        return f"{settings.context} (GC_K8S_CONTEXT)"
    res = kubectl.spawn([settings.kubectl, "config", "current-context"], timeout=20)
    if not res.ok:
        raise RuntimeError(res.error_text() or "no current context")
    return res.text().strip()


def check_namespace() -> str:
    from providers.kube.namespace import check_exists
    from providers.kube.settings import KubeSettings

    return check_exists(KubeSettings.from_env())


def check_rbac() -> str:
    from providers.kube import client

    checks = [client.AccessCheck(verb, resource, sub) for verb, resource, sub in VERBS]
    denied = client.missing_access(checks)
    if denied:
        raise RuntimeError("denied: " + ", ".join(c.describe() for c in denied)
                           + " (apply examples/k8s/rbac.yaml)")
    return ", ".join(c.describe() for c in checks)


def check_image() -> str:
    import os

    from gc_session_k8s.pod.image import valid

    image = os.environ.get("GC_K8S_IMAGE", "")
    if not image:
        raise RuntimeError("GC_K8S_IMAGE is not set")
    if not valid(image):
        raise RuntimeError(f"invalid image reference {image!r}")
    return f"{image} (pulled by the cluster's nodes; see examples/k8s/Dockerfile)"


CHECKS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("kubectl", check_kubectl), ("context", check_context), ("namespace", check_namespace),
    ("rbac", check_rbac), ("image", check_image),
)


def run_checks(report: Doctor) -> None:
    for label, check in CHECKS:
        try:
            report.check(True, label, check())
        except Exception as error:  # each failure is one line, the rest still run
            report.check(False, label, str(error))


def main(argv: Sequence[str]) -> None:
    from protocol.errors import ExitWith
    from protocol.human import JSON_FLAG, Command, Doctor, parse

    command = Command("gc-session-k8s doctor", (), (JSON_FLAG,),
                      "Check kubectl, the context, the namespace, RBAC and the image; "
                      "exit 1 if any check fails.",
                      "Reads the same settings as the operations (GC_K8S_*, GC_KUBECTL, KUBECONFIG).")
    parsed = parse(command, list(argv))
    if parsed is None:
        return
    report = Doctor("--json" in parsed.flags)
    run_checks(report)
    if not report.finish(verdict=False):
        raise ExitWith(1)
