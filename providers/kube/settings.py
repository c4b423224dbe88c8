"""Where and how to reach the cluster: the Kubernetes rows of the settings tables
(`protocol.settings`), and `KubeSettings`, read once from the environment."""

from __future__ import annotations

import os

from protocol.settings import Setting

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


#: What a namespace may be: a DNS-1123 label (Kubernetes' own rule for namespace names).
LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def check_namespace(namespace: str) -> str:
    """``namespace`` when it is a DNS-1123 label; else `UsageError` (one line, exit 1).

    Checked before any transport is chosen, so kubectl, direct and the helper refuse the
    same names the same way (a ``/`` or ``..`` would otherwise reach a URL path)."""
    if (0 < len(namespace) <= 63 and set(namespace) <= LABEL_CHARS
            and namespace[0] != "-" and namespace[-1] != "-"):
        return namespace
    from protocol.errors import UsageError

    raise UsageError(f"GC_K8S_NAMESPACE {namespace!r} is not a valid namespace (a DNS-1123 "
                     "label: at most 63 of a-z, 0-9 and '-', starting and ending alphanumeric)")


# The rows gc-session-k8s and gc-beads-k8s share (each executable's table takes them,
# some with its own words: `Setting.but`).
IMAGE = Setting("GC_K8S_IMAGE", "agent image; required by start")
NAMESPACE = Setting("GC_K8S_NAMESPACE", "namespace of the pods", default="gc")
CONTEXT = Setting("GC_K8S_CONTEXT", "kubeconfig context", shown="the current context")
KUBECTL = Setting("GC_KUBECTL", "kubectl binary", default="kubectl")
TRANSPORT = Setting("GC_K8S_TRANSPORT", "how ops reach pods: kubectl, direct, helper or auto", "choice",
                    default="auto", choices=("auto", "kubectl", "direct", "helper"))
REQUEST_TIMEOUT = Setting("GC_K8S_REQUEST_TIMEOUT", "seconds per API request", "number", default="15",
                          what="of seconds")
RETRY_BACKOFF = Setting("GC_K8S_RETRY_BACKOFF",
                        "seconds between retries of a failed API call, comma-separated", "numbers",
                        shown="0.25,0.75,1.5", what="of seconds", maximum=30)
IMAGE_PULL_SECRET = Setting("GC_K8S_IMAGE_PULL_SECRET", "image pull secret")
DOLT_HOST = Setting("GC_K8S_DOLT_HOST", "Dolt host the pods reach", default="dolt.gc.svc.cluster.local")
DOLT_PORT = Setting("GC_K8S_DOLT_PORT", "Dolt port the pods reach", "port", default="3307")
AUDIT_LOG = Setting("GC_K8S_AUDIT_LOG", "file that gets one JSON line per kubectl call and per op")
#: The resident helper's (`providers.kube.transport.helper`): read by the helper and its clients.
HELPER_IDLE = Setting("GC_K8S_HELPER_IDLE", "seconds the resident helper waits for work before it exits",
                      "number", default="300", what="of seconds")
HELPER_CACHE_MS = Setting("GC_K8S_HELPER_CACHE_MS", "how long the helper may answer a read from a "
                          "pane listing it just read (at most 10000)", "int", default="1000",
                          what="of milliseconds")
HELPER_STREAMS = Setting("GC_K8S_HELPER_STREAMS", "0: no resident exec stream per pod; each exec "
                         "opens its own", "choice", default="1", choices=("1", "0"))
RUNTIME_DIR = Setting("GC_K8S_RUNTIME_DIR", "the helper's private directory (socket, cached-read marks)",
                      shown="$XDG_RUNTIME_DIR/gc-k8s, else /tmp/gc-k8s-<uid>")
SERVICEACCOUNT_DIR = Setting("GC_K8S_SERVICEACCOUNT_DIR", "in a pod: the service account's token "
                             "and CA when no kubeconfig names a cluster",
                             shown="/var/run/secrets/kubernetes.io/serviceaccount")

#: What every Kubernetes executable reads to reach the cluster.
CLUSTER = (NAMESPACE, CONTEXT, KUBECTL, TRANSPORT, REQUEST_TIMEOUT, RETRY_BACKOFF)
#: The transports' own settings.
#: The helper serves its metrics registry at ``/metrics`` there (loopback only).
METRICS_ADDR = Setting("GC_K8S_METRICS_ADDR", "loopback host:port where the helper serves /metrics",
                       "loopback")
TRANSPORTS = (HELPER_IDLE, HELPER_CACHE_MS, HELPER_STREAMS, RUNTIME_DIR, SERVICEACCOUNT_DIR,
              METRICS_ADDR)


class KubeSettings:
    """Namespace, context, kubectl binary and request timeout.

    Empty values count as unset, as in the upstream scripts.
    """

    __slots__ = ("context", "kubeconfig", "kubectl", "namespace", "request_timeout")

    def __init__(
        self,
        *,
        namespace: str = NAMESPACE.default,
        context: str = "",
        kubectl: str = KUBECTL.default,
        request_timeout: float = float(REQUEST_TIMEOUT.default),
        kubeconfig: str = "",
    ) -> None:
        self.namespace = namespace
        self.context = context
        self.kubectl = kubectl
        self.request_timeout = request_timeout
        self.kubeconfig = kubeconfig

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KubeSettings:
        env = os.environ if environ is None else environ
        return cls(
            namespace=check_namespace(NAMESPACE.text(env)),
            context=CONTEXT.text(env),
            kubectl=KUBECTL.text(env),
            request_timeout=REQUEST_TIMEOUT.number(env),
            kubeconfig=env.get("KUBECONFIG") or "",
        )

    def __repr__(self) -> str:
        return (
            f"KubeSettings(namespace={self.namespace!r}, context={self.context!r}, "
            f"kubectl={self.kubectl!r}, request_timeout={self.request_timeout!r})"
        )
