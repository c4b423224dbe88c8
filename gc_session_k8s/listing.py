"""`list-running`: one API call for the whole namespace (or city).

Raw session names come from the ``gc-session-name`` annotation (label
fallback, as upstream); only Running pods that are not terminating count.
"""

from __future__ import annotations

from gc_session_k8s.naming import list_selector
from providers.kube.kubectl import kubectl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.settings import KubeSettings

JSONPATH = ("jsonpath={range .items[*]}{.metadata.annotations.gc-session-name}{'\\t'}"
            "{.metadata.labels.gc-session}{'\\t'}{.status.phase}{'\\t'}"
            "{.metadata.deletionTimestamp}{'\\n'}{end}")


def running_names(out: str, prefix: str) -> list[str]:
    names: set[str] = set()
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        raw, label, phase, deleting = parts[:4]
        name = raw or label
        if name and phase == "Running" and not deleting and name.startswith(prefix):
            names.add(name)
    return sorted(names)


def list_running(settings: KubeSettings, city: str, prefix: str) -> str:
    res = kubectl(["get", "pods", "-l", list_selector(city), "-o", JSONPATH], settings=settings,
                  action="list pods")
    return "\n".join(running_names(res.out.decode("utf-8", "replace"), prefix))
