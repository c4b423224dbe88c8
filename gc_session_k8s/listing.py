"""`list-running`: one API call for the whole namespace (or city).

Raw session names come from the ``gc-session-name`` annotation (label
fallback, as upstream); only Running pods that are not terminating count.
"""

from __future__ import annotations

from gc_session_k8s.naming import is_own_pod, list_selector
from providers.kube.kubectl import kubectl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.settings import KubeSettings

JSONPATH = ("jsonpath={range .items[*]}{.metadata.annotations.gc-session-name}{'\\t'}"
            "{.metadata.labels.gc-session}{'\\t'}{.status.phase}{'\\t'}"
            "{.metadata.deletionTimestamp}{'\\t'}{.metadata.name}{'\\t'}"
            "{.metadata.annotations.gc-city}{'\\n'}{end}")


def running_names(out: str, prefix: str, city: str = "") -> list[str]:
    """Names of the running pods in a `JSONPATH` listing that are this city scope's own
    (`naming.is_own_pod`): the label selector only narrows, this decides exactly."""
    names: set[str] = set()
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 6:
            continue
        raw, label, phase, deleting, pod, pod_city = parts[:6]
        name = raw or label
        if name and phase == "Running" and not deleting and name.startswith(prefix) \
                and is_own_pod(pod, name, city, pod_city):
            names.add(name)
    return sorted(names)


def list_running(settings: KubeSettings, city: str, prefix: str) -> str:
    res = kubectl(["get", "pods", "-l", list_selector(city), "-o", JSONPATH], settings=settings,
                  action="list pods")
    out = res.out.decode("utf-8", "replace")
    pods = {parts[4] for parts in (line.split("\t") for line in out.splitlines()) if len(parts) >= 6}
    from providers.kube.transport import answers

    answers.prune(settings.namespace, pods)  # the runtime dir forgets pods that are gone
    return "\n".join(running_names(out, prefix, city))
