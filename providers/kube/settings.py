"""Where and how to reach the cluster, read once from the environment."""

from __future__ import annotations

import os

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


class KubeSettings:
    """Namespace, context, kubectl binary and request timeout.

    Empty values count as unset, as in the upstream scripts.
    """

    __slots__ = ("context", "kubeconfig", "kubectl", "namespace", "request_timeout")

    def __init__(
        self,
        *,
        namespace: str = "gc",
        context: str = "",
        kubectl: str = "kubectl",
        request_timeout: float = 15.0,
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
        raw_timeout = env.get("GC_K8S_REQUEST_TIMEOUT", "")
        try:
            timeout = float(raw_timeout) if raw_timeout else 15.0
        except ValueError:
            timeout = 15.0
        return cls(
            namespace=check_namespace(env.get("GC_K8S_NAMESPACE") or "gc"),
            context=env.get("GC_K8S_CONTEXT") or "",
            kubectl=env.get("GC_KUBECTL") or "kubectl",
            request_timeout=timeout if timeout > 0 else 15.0,
            kubeconfig=env.get("KUBECONFIG") or "",
        )

    def __repr__(self) -> str:
        return (
            f"KubeSettings(namespace={self.namespace!r}, context={self.context!r}, "
            f"kubectl={self.kubectl!r}, request_timeout={self.request_timeout!r})"
        )
