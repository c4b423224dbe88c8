"""The one small interface of the exec transports: a request (`ExecRequest`), a transport
(`Transport`: run it, or say why it cannot with `Fallback`), and which module the helper
starts as (`start_helper_as`).

The executable's quickest path loads this module: it imports nothing.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from protocol.proc import Result
    from providers.kube.settings import KubeSettings

    class Transport(Protocol):
        """One way an exec reaches the pod (`providers.kube.pod_exec` tries them in order)."""

        #: Its name in ``GC_K8S_TRANSPORT`` and in the audit log.
        name: str
        #: It retries under `providers.kube.retry` itself (the helper does, in its process).
        retries_itself: bool
        #: It writes its own audit line (kubectl does, for every kubectl process).
        audits_itself: bool

        def run(self, request: "ExecRequest") -> "Result":
            """One attempt: the command's `Result`; `Fallback` when it cannot run it."""
            ...


#: The module ``python -m`` runs as the helper (`helper_client.launch`); `start_helper_as`.
_helper_entry = "providers.kube.transport.helper"


def start_helper_as(module: str) -> None:
    """Start the helper, when this process starts one, as ``python -m MODULE serve``: the
    executable's own entry, which hands `providers.kube.transport.helper.main` what it
    answers whole (shared code never names an executable's modules)."""
    global _helper_entry
    _helper_entry = module


def helper_entry() -> str:
    return _helper_entry


class Fallback(Exception):
    """This transport cannot run this call; the next one must. The command has not started."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KubectlOnly(Fallback):
    """A fallback decided from the kubeconfig itself (by the helper): direct would only
    reach the same verdict, so the call goes straight to kubectl."""


class HelperAbsent(Fallback):
    """No helper serves this call (none runs, or it went away before the exec started).

    ``reason`` lands in the audit lines of the transport that runs the call instead, so a
    helper that keeps missing is visible, not just slower. ``start``: how to start one,
    called once another transport's exec has reached the cluster (an op with no cluster
    to reach must not leave a helper behind); None: do not start one.
    """

    def __init__(self, reason: str, *, start: "Callable[[], None] | None" = None) -> None:
        super().__init__(reason)
        self.start = start


class ExecRequest:
    """One exec: where, what, and whether it may run twice (``retry``: a read)."""

    __slots__ = ("argv", "container", "helper", "marks", "pod", "retry", "settings", "stdin",
                 "timeout")

    def __init__(self, settings: "KubeSettings", pod: str, container: str, argv: "list[str]",
                 stdin: "bytes | None", timeout: "float | None", retry: bool) -> None:
        self.settings = settings
        self.pod = pod
        self.container = container
        self.argv = argv
        self.stdin = stdin
        self.timeout = timeout
        self.retry = retry
        #: Why the helper did not serve this request (kept on the audit lines that follow).
        self.helper = ""
        #: What the serving transport says about how it served (audit fields).
        self.marks: dict[str, Any] = {}

    def shown(self) -> "list[str]":
        """The request as the audit log shows it (``exec POD [-c C] -- ARGV``)."""
        from providers.kube import audit

        return audit.exec_argv(self.pod, self.container, self.argv)


#: A fallback's reason as a metrics label: (a phrase of its text, the label), first match;
#: anything else is ``other``. The text itself names files and servers: never a label.
FALLBACK_REASONS = (
    ("working directory", "caller_cwd_unknown"),
    ("proxy", "proxy"),
    ("no kubeconfig file", "no_kubeconfig_file"),
    ("credential plugin", "exec_plugin"),
    ("tokenFile", "token_file"),
    ("service account", "no_service_account_token"),
    ("v5.channel", "no_exec_v5"),
    ("kubectl config view", "kubeconfig_unresolved"),
    ("changed while", "kubeconfig_changed"),
    ("server", "server_url"),
    ("certificate", "tls_files"),
    ("SSL_CERT", "tls_files"),
    ("memfd", "tls_files"),
    ("kubeconfig", "kubeconfig"),
    ("regular file", "kubeconfig"),
    ("larger than", "kubeconfig"),
)


def fallback_reason(why: Fallback) -> str:
    """``why`` as a low-cardinality label: ``helper_absent`` for a helper that served
    nothing, else a word for its kind of reason (`FALLBACK_REASONS`)."""
    if isinstance(why, HelperAbsent):
        return "helper_absent"
    text = why.reason
    for phrase, label in FALLBACK_REASONS:
        if phrase in text:
            return label
    return "other"
