"""Turn kubectl's stderr into our error tree (pure string work, no `re`); every exec
transport words its failures as kubectl would, so all classify identically."""

from __future__ import annotations

from providers.kube.errors import (
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeInvalid,
    KubeNotFound,
    KubeTimeout,
    KubeUnavailable,
    PodGone,
)

#: Substrings (lower-cased) that mean "try again later".
TRANSIENT_MARKERS = (
    "connection refused",
    "connection reset",
    "unable to connect to the server",
    "was refused - did you specify the right host or port",
    "(toomanyrequests)",
    "too many requests",
    "(internalerror)",
    "(serviceunavailable)",
    "service unavailable",
    "(servertimeout)",
    "(timeout)",
    "the server is currently unable to handle the request",
    "i/o timeout",
    "tls handshake timeout",
    "context deadline exceeded",
    "client.timeout exceeded",
    "etcdserver: request timed out",
    "http2: client connection lost",
    "unexpected eof",
    ": eof",
    "unable to upgrade connection",
    "error dialing backend",
    "no route to host",
    "bad gateway",
    "gateway timeout",
)

TIMEOUT_MARKERS = ("timed out waiting for the condition", "timed out waiting for")


def first_error_line(stderr: str) -> str:
    """The most telling line of kubectl's stderr (its ``Error``/``error:`` line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("Error from server", "error:", "Error:", "Unable to connect")):
            return line
    return lines[-1] if lines else ""


def forbidden_detail(text: str) -> tuple[str, str]:
    """Extract ``(verb, resource)`` from "... cannot VERB resource "RES" ..."."""
    marker = "cannot "
    start = text.find(marker)
    if start < 0:
        return "", ""
    words = text[start + len(marker) :].split()
    verb = words[0] if words else ""
    resource = ""
    if len(words) >= 3 and words[1] == "resource":
        resource = words[2].strip('"')
        # Some servers name the subresource apart: `resource "pods" with subresource "exec"`.
        if len(words) >= 6 and words[3:5] == ["with", "subresource"]:
            resource += "/" + words[5].strip('"')
    return verb, resource


def forbidden(message: str, text: str = "") -> KubeForbidden:
    """A 403 with a hint that says who refused: RBAC names a verb and resource ("User x
    cannot create resource pods"); Pod Security admission says the pod "violates
    PodSecurity"; a quota or a terminating namespace needs no hint (their words say it).
    ``text`` is where to look for the verb (kubectl's error line; the message otherwise)."""
    low = message.lower()
    if "violates podsecurity" in low:
        return KubeForbidden(f"{message} (Pod Security admission: the namespace's "
                             "pod-security.kubernetes.io/enforce level refuses this pod)")
    verb, resource = forbidden_detail(text or message)
    if verb and resource:
        return KubeForbidden(f"{message} (RBAC: grant {verb!r} on {resource!r} in the namespace)",
                             verb=verb, resource=resource)
    return KubeForbidden(message)


def classify(stderr: str, *, action: str, rc: int = 1) -> KubeError:
    """Map a failed kubectl call to one `KubeError` subclass.

    ``action`` says what we tried ("get pod gc-beads-x"); it leads the message.
    """
    line = first_error_line(stderr) or f"kubectl exited {rc}"
    low = stderr.lower()
    message = f"{action}: {line}"
    if "(notfound)" in low or (" not found" in low and "error from server" in low):
        return KubeNotFound(message)
    if "(alreadyexists)" in low or "already exists" in low:
        return KubeConflict(message)
    if "(conflict)" in low or "the object has been modified" in low:
        return KubeConflict(message)
    if "(forbidden)" in low or " is forbidden:" in low:
        return forbidden(message, line)
    if "(unauthorized)" in low or "must be logged in" in low:
        return KubeForbidden(f"{message} (credentials rejected: check the kubeconfig)")
    if any(marker in low for marker in TIMEOUT_MARKERS):
        return KubeTimeout(message)
    if any(marker in low for marker in TRANSIENT_MARKERS):
        return KubeUnavailable(message)
    if "(badrequest)" in low or "(invalid)" in low or " is invalid:" in low:
        return KubeInvalid(message)
    return KubeError(message)


#: kubectl's words for "the pod is there but its container cannot be exec'd into".
NOT_RUNNING = ("container not found", "is not valid for pod", "does not have a host assigned",
               "cannot exec into a container in a completed pod", "container not running",
               "is waiting to start", "pod is not running", "unable to upgrade connection: pod")


def exec_failure(text: str, pod: str, rc: int = 1) -> KubeError:
    """The error for an exec that failed before the command could report an exit code.

    ``text`` is kubectl's stderr (the other transports word their failures the same way),
    so all transports classify identically.
    """
    error = classify(text, action=f"exec in pod {pod}", rc=rc)
    low = text.lower()
    if isinstance(error, KubeForbidden):
        # A real kube-apiserver refuses a forbidden exec as "unable to upgrade connection:
        # pods "p" is forbidden: ...", which the NOT_RUNNING markers would read as a gone pod.
        return error
    if isinstance(error, KubeNotFound) or any(marker in low for marker in NOT_RUNNING):
        return PodGone(str(error))
    if isinstance(error, KubeUnavailable) and "Error from server" in text:
        # The API refused the pod lookup or the upgrade: the command never started.
        error.not_started = True
    return error
