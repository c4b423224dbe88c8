"""`copy-to` and `exec`: tar over ``kubectl exec -i``, and commands run in the box."""

from __future__ import annotations

import os
import sys

from gc_session_k8s.naming import AGENT_CONTAINER, SESSION_ENV
from gc_session_k8s.pod import staging
from gc_session_k8s.pod_runner import foreign, guarded
from protocol.errors import ExitWith, ProviderError
from providers.kube.errors import PodGone
from providers.kube.pod_exec import exec_in_pod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.settings import KubeSettings

# Extract into the session's work dir (remembered in a tmux option at start;
# /workspace otherwise). $1 is unused padding so no value is ever in the script.
COPY_SCRIPT = """\
wd=$(tmux -u show-options -qv -t =main: @gc-work-dir 2>/dev/null)
[ -n "$wd" ] || wd=${GC_DIR:-/workspace}
exec tar -x -o -f - -C "$wd"
"""
#: The command arrives as $1: run by sh in the work dir, stderr merged into stdout, with
#: GC_SESSION the session's name (env.identity) and $2 (`GC_K8S_TOOLS_PATH`) first on PATH.
EXEC_SCRIPT = ('cd -- "${GC_DIR:-.}" 2>/dev/null; exec 2>&1; '
               f'export GC_SESSION="${{{SESSION_ENV}-}}"; '
               '[ -z "${2-}" ] || PATH=$2:$PATH; eval "$1"')


def copy_to(settings: KubeSettings, pod: str, session: str, src: str, rel_dst: str) -> None:
    """Best-effort: a missing session or source is not an error; ``..`` is. A pod that is
    not ``session``'s own is a missing session (`gc_session_k8s.pod_runner.GUARD`)."""
    rel = staging.safe_rel(rel_dst)
    if not src or not os.path.exists(src):
        return
    data = staging.single(src, rel)
    try:
        res = exec_in_pod(pod, guarded(["sh", "-c", COPY_SCRIPT], session),
                          container=AGENT_CONTAINER, settings=settings, stdin=data, timeout=60)
    except PodGone:
        return
    if foreign(res):
        return
    if not res.ok:
        raise ProviderError(f"copy-to: {res.error_text() or f'tar exit {res.rc}'}")


def exec_command(settings: KubeSettings, pod: str, session: str, command: bytes,
                 tools: str = "") -> None:
    """RPP ``exec``: the command's output and exit code; a transport failure, or a pod that
    is not ``session``'s own, exits 1."""
    from protocol.rollback import Rollback

    text = command.decode("utf-8", "replace")
    try:
        # gc cancels by signalling our process group; kubectl runs in its own group, so
        # turn SIGTERM/SIGINT into an exception that makes proc.run kill it.
        with Rollback():
            res = exec_in_pod(pod, guarded(["sh", "-c", EXEC_SCRIPT, "sh", text, tools], session),
                              container=AGENT_CONTAINER, settings=settings, timeout=None)
    except PodGone as error:
        raise ProviderError(f"session is not running: {error}") from None
    if foreign(res):
        raise ProviderError(f"session is not running: pod {pod} belongs to another session")
    out = sys.stdout.buffer
    out.write(res.out)
    if res.err:
        out.write(res.err)
    out.flush()
    if res.rc != 0:
        raise ExitWith(res.rc)
