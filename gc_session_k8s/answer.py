"""The reads the helper answers whole for `gc_session_k8s.hot`, run in the warm helper.

`serve` runs the op's own code (the `providers.tmux.ops` table, through a `PodRunner` whose
execs are the helper's: its kept answers, resident streams and pooled connections), so
what it prints is what the executable would print. Anything but a plain answer (usage
errors, a failing cluster, a transport that hands back to kubectl) raises, and the
executable then runs the op the full way: a read may run twice, never differently.
"""

from __future__ import annotations

from gc_session_k8s import hot
from gc_session_k8s.naming import session_pod
from gc_session_k8s.pod_runner import PodRunner
from gc_session_k8s.settings import TABLE as SETTINGS
from protocol.dispatch import Call, bind, output
from protocol.settings import check
from providers.kube.settings import KubeSettings
from providers.tmux.ops import VALIDATORS, session_operations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gc_session_k8s.pod_runner import Exec
    from protocol.locks import FileLock

#: The ops answered here: `gc_session_k8s.hot.READS`, the ones the executable hands over.
READS = hot.READS


class ClientCall(Call):
    """A `Call` with the client's environment and stdin, and the helper's way to exec."""

    __slots__ = ("data", "execute")

    def __init__(self, call: Call, environ: dict[str, str], data: bytes, execute: Exec) -> None:
        super().__init__(call.exe, call.op, call.args, call.rest)
        self.environ = environ
        self.data = data
        self.execute = execute

    def stdin_bytes(self) -> bytes:
        return self.data


def runner_for(call: Call) -> PodRunner:
    assert isinstance(call, ClientCall)
    return PodRunner(KubeSettings.from_env(call.environ),
                     session_pod(call["name"], call.environ.get("GC_K8S_CITY") or ""),
                     call["name"], execute=call.execute, cached_reads=True)


def no_lock(call: Call, runner: PodRunner) -> FileLock:
    raise RuntimeError("the helper answers reads only")  # nudge is not in READS


TABLE = session_operations(runner_for, no_lock)


def serve(argv: list[str], environ: dict[str, str], data: bytes, execute: Exec) -> bytes:
    """The stdout of ``gc-session-k8s <argv>`` for a client with ``environ`` and stdin
    ``data``; raises for anything that is not a plain answer."""
    op = argv[0] if argv else ""
    if op not in READS:
        raise LookupError(f"not answered by the helper: {op!r}")
    check(SETTINGS, environ)  # an invalid setting: the full way says so, exit 1
    spec = TABLE[op]
    call = ClientCall(bind(op, spec, argv[1:], VALIDATORS), environ, data, execute)
    return output(spec.handler(call))
