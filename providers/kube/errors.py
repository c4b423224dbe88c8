"""Our own error tree for everything that talks to Kubernetes.

Callers catch these, never `kubernetes.client.ApiException` or a kubectl exit
status: both seams (`providers.kube.kubectl` and `providers.kube.client`)
translate their failures into the same classes. Every class is a
`protocol.errors.ProviderError`, so an uncaught one exits 1 with its message
on one stderr line. Messages never contain the words "not found" unless the
*object asked about* is missing: Gas City maps that phrase to ErrNotFound.
"""

from __future__ import annotations

from protocol.errors import ProviderError, TemporaryError


class KubeError(ProviderError):
    """Any failure talking to the Kubernetes API (or running kubectl)."""


class KubeNotFound(KubeError):
    """The object does not exist (HTTP 404, kubectl ``NotFound``)."""


class PodGone(KubeNotFound):
    """An exec found no pod, or no running container in it: the session is missing."""


class KubeConflict(KubeError):
    """The object already exists or changed underneath us (HTTP 409)."""


class KubeForbidden(KubeError):
    """RBAC denied the request (HTTP 403); the message names the verb and resource."""

    def __init__(self, message: str, *, verb: str = "", resource: str = "") -> None:
        super().__init__(message)
        self.verb = verb
        self.resource = resource


class KubeInvalid(KubeError):
    """The server rejected the object or request as invalid (HTTP 400/422)."""


class KubeUnavailable(KubeError, TemporaryError):
    """Transient: connection refused, timeouts, HTTP 429 or 5xx.

    A read is safe to retry; a write only when ``not_started`` (the request provably
    never ran: HTTP 429, or the API refused an exec before the command started).
    """

    def __init__(self, message: str, *, not_started: bool = False) -> None:
        super().__init__(message)
        self.not_started = not_started




class KubectlMissing(KubeError):
    """The kubectl binary cannot be run (not on PATH, or ``GC_KUBECTL`` is wrong)."""


class KubeTimeout(KubeUnavailable):
    """A wait (pod Ready, deletion) or a kubectl call ran out of time."""
