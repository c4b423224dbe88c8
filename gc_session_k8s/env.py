"""The env.* guarantees of `gc-session-k8s`: which it declares, and what start checks.

The handshake cannot see a pod, so each guarantee is decided from the settings gc runs
the provider with, and the ones that depend on the image are checked in the pod at
start (`check_in_pod`): a start whose pod lacks the tools the operator declared fails
with one line naming them, instead of a probe failing later.

* ``env.workspace``: the start config's work_dir is staged into the pod (or mounted at
  its own path, ``GC_K8S_WORKDIR_HOSTPATH``) and `exec` runs there. Not with
  ``GC_K8S_PREBAKED`` (the image brings its own /workspace; nothing is staged).
* ``env.identity``: `exec` and `proc-stream` export ``GC_SESSION`` = the session's name
  (the pod's own name annotation); ``whoami`` answers when the image has a passwd entry
  for the pod's user (start warns when it does not).
* ``env.transcripts``: `stop` brings ``$GC_TRANSCRIPTS_SRC`` (in the pod) into
  ``$GC_TRANSCRIPTS_DEST`` (on the controller) as one tar stream over one exec before
  the pod is deleted, unpacked by the contained copy of `sync` (``data`` filter: no
  absolute paths, no links out of the tree).
* ``env.tooling``: only when the operator names the image's directories holding ``gc``,
  ``bd`` and ``git`` in ``GC_K8S_TOOLS_PATH`` (put first on the PATH of `exec` and
  `proc-stream`); start checks that each runs.
* ``env.ledger``: when the operator turns on the tunnel from the pod to the controller's
  loopback ``GC_BEADS_API`` (``GC_K8S_LEDGER=1``, `gc_session_k8s.ledger`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers.tmux.runner import Runner

TOOLS = ("gc", "bd", "git")


def _flag(environ: Mapping[str, str], key: str) -> bool:
    return (environ.get(key) or "").lower() in ("1", "true", "yes", "on")


def env_capabilities(environ: Mapping[str, str]) -> list[str]:
    caps = [] if _flag(environ, "GC_K8S_PREBAKED") else ["env.workspace"]
    caps += ["env.identity", "env.transcripts"]
    if environ.get("GC_K8S_TOOLS_PATH"):
        caps.append("env.tooling")
    from gc_session_k8s.ledger import capabilities as ledger

    return caps + ledger(environ)


#: Run in the pod at start: ``whoami`` (env.identity: a line, exit 0), and with ``$1``
#: first on PATH each tool (env.tooling, when ``$1`` is given: a line, exit 1).
CHECK_SCRIPT = (
    'whoami >/dev/null 2>&1 || echo "env.identity: whoami does not answer (no passwd '
    'entry for uid $(id -u) in the image)"\n'
    '[ -n "$1" ] || exit 0\n'
    'PATH=$1:$PATH\n'
    'for t in ' + " ".join(TOOLS) + '; do\n'
    '  command -v "$t" >/dev/null 2>&1 || { echo "env.tooling: no $t on GC_K8S_TOOLS_PATH '
    '($1) or the image\'s PATH"; exit 1; }\n'
    'done\n')


def check_in_pod(r: Runner, environ: Mapping[str, str]) -> tuple[str, str]:
    """``(why start fails, a warning)``, each one line or "": the tools the operator
    declared (GC_K8S_TOOLS_PATH) must be in the pod; a ``whoami`` that does not answer is
    said, not fatal (an image without a passwd entry for its uid runs agents all the same)."""
    res = r.shell(CHECK_SCRIPT, [environ.get("GC_K8S_TOOLS_PATH") or ""])
    lines = (res.out + res.err).decode("utf-8", "replace").strip().splitlines()
    warning = next((line for line in lines if line.startswith("env.identity:")), "")
    if res.ok:
        return "", warning
    return (lines[-1] if lines else f"the env.* check exited {res.rc}"), warning
