"""Run ``bd`` in the runner pod: one ``kubectl exec`` per call, argv only.

The in-pod program is a constant ``sh`` script; the work directory, the bd
command and every bd argument travel as positional parameters, so no name,
id or value is ever spliced into shell text. ``BEADS_DIR`` is pinned to the
scope's own ``.beads`` (an uninitialized rig never falls through to the
city's database) and Dolt auto-start is off.
"""

from __future__ import annotations

from typing import NamedTuple

from protocol.errors import ProviderError, UsageError
from protocol.proc import Result
from providers.kube.errors import KubeError
from providers.kube.pod_exec import exec_in_pod
from providers.kube.settings import KubeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

CONTAINER = "beads"
#: The runner container's copy of its ``gc/city-path`` annotation (the downward API).
CITY_ENV = "GC_BEADS_CITY_PATH"
#: Exit status and stderr of a store op stopped because the pod serves another city.
FOREIGN_RC = 86
FOREIGN = "gc: this runner pod serves another city"
#: $1 = city path, $2 = mode (enter|create), $3 = work dir, $4… = command. A pod that
#: names another city (two city paths whose pod names collide) is left untouched; a pod
#: made before the variable existed cannot say, and is trusted as before.
IN_POD = (
    f'if [ -n "${{{CITY_ENV}+x}}" ] && [ "${CITY_ENV}" != "$1" ]; then '
    f'echo "{FOREIGN}" >&2; exit {FOREIGN_RC}; fi\n'
    'mode=$2 wd=$3; shift 3\n'
    'if [ "$mode" = create ]; then mkdir -p -- "$wd" || exit 3; fi\n'
    'cd -- "$wd" 2>/dev/null || { echo "beads scope $wd is not initialized (run init)" >&2; exit 3; }\n'
    'BEADS_DIR="$wd/.beads" BEADS_DOLT_AUTO_START=0; export BEADS_DIR BEADS_DOLT_AUTO_START\n'
    'exec "$@"\n'
)
NOT_FOUND_WORDS = ("not found", "no issue found")


class Target(NamedTuple):
    """Where a store operation runs: pod, scope directory in the pod, bd command."""

    pod: str
    workdir: str
    bd: str
    settings: KubeSettings
    #: The city path the pod must serve (its ``gc/city-path`` annotation).
    city: str = ""


def scrub(text: str) -> str:
    """Infrastructure errors must never read as "bead not found" to gc."""
    low = text.lower()
    for words in NOT_FOUND_WORDS:
        while words in low:
            at = low.index(words)
            text = text[:at] + "missing" + text[at + len(words) :]
            low = text.lower()
    return text


def runner_unavailable(target: Target, error: KubeError) -> ProviderError:
    return ProviderError(scrub(f"beads runner pod {target.pod} unavailable: {error}"))


def run_in_scope(
    target: Target,
    command: Sequence[str],
    *,
    stdin: bytes | None = None,
    create_dir: bool = False,
    timeout: float = 25.0,
    retry: bool = False,
) -> Result:
    """``command`` in the scope directory (``BEADS_DIR`` pinned); its own exit code."""
    argv = ["sh", "-c", IN_POD, "sh", target.city, "create" if create_dir else "enter",
            target.workdir, *command]
    if any("\0" in arg for arg in argv):  # no process argv holds one: say so, run nothing
        raise UsageError("a value contains a NUL byte, which cannot reach bd")
    try:
        result = exec_in_pod(target.pod, argv, stdin=stdin, container=CONTAINER,
                             settings=target.settings, timeout=timeout, retry=retry)
    except KubeError as error:
        raise runner_unavailable(target, error) from error
    if result.rc == FOREIGN_RC and result.err.startswith(FOREIGN.encode()):
        raise ProviderError(f"beads runner pod {target.pod} serves another city, not "
                            f"{target.city!r}; set GC_K8S_BEADS_RUNNER_POD to a pod of its own")
    return result


def run_bd(
    target: Target,
    args: Sequence[str],
    *,
    stdin: bytes | None = None,
    timeout: float = 25.0,
    retry: bool = False,
) -> Result:
    """``bd <args>`` in the scope directory; the result carries bd's own exit code.

    ``GC_BEADS_BD`` may name a command with arguments (split on whitespace).
    """
    return run_in_scope(target, [*target.bd.split(), *args], stdin=stdin, timeout=timeout,
                        retry=retry)


def init_args(prefix: str, database: str, host: str, port: str) -> list[str]:
    """``bd init`` for a scope on the shared Dolt server (cmd/bd/init.go flags).

    Values use the ``--flag=value`` form, so none can be read as another flag;
    ``--server-port`` is an Int flag in bd (checked by `config.dolt_target`).
    """
    return ["init", "--server", f"--server-host={host}", f"--server-port={port}",
            f"--prefix={prefix}", f"--database={database}", "--skip-hooks", "--non-interactive",
            "--role=maintainer", "--skip-agents", "--quiet"]


def config_get_args(key: str) -> list[str]:
    """``bd config get --json -- <key>`` (``--`` keeps a key like ``-x`` positional)."""
    return ["config", "get", "--json", "--", key]


def config_set_args(key: str, value: str) -> list[str]:
    """``bd config set -- <key> <value>``: a value starting with ``-`` stays a value."""
    return ["config", "set", "--", key, value]


def bd_message(result: Result) -> str:
    """bd's error text in one line (its last ``Error:`` line if it printed several)."""
    text = result.err.decode("utf-8", "replace").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.lower().startswith("error"):
            return line
    return lines[-1] if lines else f"bd exited {result.rc}"


def is_not_found(result: Result) -> bool:
    low = result.err.decode("utf-8", "replace").lower()
    return any(words in low for words in NOT_FOUND_WORDS)
