"""`PodRunner`: the tmux `Runner` protocol for one pod, one exec per call.

Every session operation of `providers.tmux.session` becomes one exec into the pod
(`providers.kube.pod_exec`, whichever transport runs it). A missing pod (or a container that is not running) reads as
a missing tmux session: the result is the typed `providers.tmux.runner.Missing`,
which the shared logic treats as "session missing" (is-running false, best-effort
ops exit 0).
Values never get spliced into scripts: tmux arguments go through
`providers.tmux.runner.command_line`, paths as positional arguments, and
environment values on stdin (argv shows in ``ps`` inside the pod).
"""

from __future__ import annotations

from gc_session_k8s.naming import AGENT_CONTAINER, SESSION_ENV, TMUX_SESSION
from protocol.proc import Result
from providers.kube.errors import PodGone
from providers.kube.pod_exec import exec_in_pod
from providers.tmux import proctree
from providers.tmux.runner import Missing, command_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Protocol

    from providers.kube.settings import KubeSettings

    class Exec(Protocol):
        """`providers.kube.pod_exec.exec_in_pod`'s signature."""

        def __call__(self, pod: str, argv: Sequence[str], *, container: str,
                     settings: KubeSettings, stdin: bytes | None, timeout: float | None,
                     retry: bool) -> Result: ...

#: `t` in scripts is the pod's tmux, as in the local runner.
PREAMBLE = 't() { tmux -u "$@"; }\n'
#: Separates the tmux output from the two ps listings in `tmux_and_processes`.
SEP = "\x1egc-sep\x1e"
#: The pod's process table as two ps listings (names, then argv), split by `SEP`.
PS_SCRIPT = ("ps -A -o pid= -o ppid= -o comm= 2>/dev/null\n"
             f"printf '{SEP}\\n'\n"
             "ps -A -o pid= -o args= 2>/dev/null\n"
             "exit 0\n")
#: A tmux command and the process table in one exec.
PROCESSES_SCRIPT = f't "$@"; rc=$?\nprintf \'\\n{SEP}%s\\n\' "$rc"\n' + PS_SCRIPT
#: Reads ``KEY base64(value)`` lines from stdin up to a ``.`` line and exports them;
#: the rest of stdin is left to the script (sh reads a pipe a byte at a time).
ENV_FROM_STDIN = ('while read -r k v && [ "$k" != . ]; do '
                  'v=$(printf %s "$v" | base64 -d; echo x) || exit 1; export "$k=${v%x}"; done\n')
#: The first line of every exec's script: is this the pod of session $1? Its annotation,
#: copied into the container's environment at creation (`naming.SESSION_ENV`), must equal
#: the name exactly; else the exec ends here, before touching anything, with `FOREIGN`.
#: A pod is shared by two names only through a hash collision (`protocol.sanitize`), or a
#: pod made before this check (no such variable): both read as "not this session".
FOREIGN_RC = 86
FOREIGN = "gc: this pod belongs to another session"
GUARD = (f'[ "${{{SESSION_ENV}-}}" = "$1" ] || {{ echo "{FOREIGN}" >&2; exit {FOREIGN_RC}; }}; '
         'shift\n')
#: Below gc's 30 s per-op deadline, so a hung kubectl is reported, not SIGKILLed.
DEFAULT_TIMEOUT = 25.0
#: tmux commands that only read: safe to re-run after a transient API failure.
READ_ONLY = frozenset({"list-panes", "show-environment", "capture-pane", "list-windows",
                       "display-message", "has-session", "show-options", "list-sessions"})


def missing(error: PodGone) -> Result:
    return Missing(f"session pod gone: {error}")


def guarded(argv: Sequence[str], session: str) -> list[str]:
    """``argv`` run only in the pod of ``session`` (`GUARD`), in the same exec: a script
    (``sh -c SCRIPT $0 ARGS``) gets the check as its first line, anything else runs
    behind ``exec``."""
    if len(argv) >= 3 and argv[0] == "sh" and argv[1] == "-c":
        return ["sh", "-c", GUARD + argv[2], argv[3] if len(argv) > 3 else "sh", session,
                *argv[4:]]
    return ["sh", "-c", GUARD + 'exec "$@"', "sh", session, *argv]


def foreign(result: Result) -> bool:
    """Did `GUARD` stop the exec (the pod is not this session's)?"""
    return result.rc == FOREIGN_RC and result.err.startswith(FOREIGN.encode())


def not_this_session(pod: str) -> Result:
    return Missing(f"pod {pod} is not this session's (its name annotation differs)")


class PodRunner:
    """Runs tmux and sh in the ``agent`` container of one pod."""

    def __init__(self, settings: KubeSettings, pod: str, session: str,
                 container: str = AGENT_CONTAINER, *, execute: Exec | None = None,
                 cached_reads: bool = False) -> None:
        """``session``: the session name; every exec acts only if the pod is its own
        (`GUARD`), else reads as a missing session. ``execute``: how an exec runs (default
        `providers.kube.pod_exec.exec_in_pod`; the helper passes its own when it answers a
        read itself, `gc_session_k8s.answer`). ``cached_reads``: whether a read repeated
        within a moment may be answered from the helper's cache of the pod
        (`providers.kube.transport.answers`), decided by whoever builds the runner from the
        settings, not by the transport that happens to run an exec."""
        self.settings = settings
        self.pod = pod
        self.session = session
        self.container = container
        self.target = TMUX_SESSION
        self.execute = execute
        self.cached_reads = cached_reads

    def _exec(self, argv: Sequence[str], stdin: bytes | None, timeout: float | None,
              retry: bool = False) -> Result:
        try:
            res = (self.execute or exec_in_pod)(
                self.pod, guarded(argv, self.session), container=self.container,
                settings=self.settings, stdin=stdin, retry=retry,
                timeout=timeout if timeout is not None else DEFAULT_TIMEOUT)
        except PodGone as error:
            return missing(error)
        return not_this_session(self.pod) if foreign(res) else res

    def tmux(self, *commands: Sequence[str], stdin: bytes | None = None,
             timeout: float | None = None) -> Result:
        read_only = len(commands) == 1 and bool(commands[0]) and commands[0][0] in READ_ONLY
        return self._exec(["tmux", "-u", *command_line(commands)], stdin, timeout, retry=read_only)

    def shell(self, script: str, args: Sequence[str] = (), *, stdin: bytes | None = None,
              env: dict[str, str] | None = None, cwd: str | None = None,
              timeout: float | None = None) -> Result:
        head = PREAMBLE
        positional = list(args)
        if cwd:
            # The directory is an argument, never part of the script text.
            head = 'cd -- "$1" || exit 1; shift\n' + head
            positional = [cwd, *positional]
        if env:
            head = ENV_FROM_STDIN + head
            stdin = env_block(env) + (stdin or b"")
        argv = ["sh", "-c", head + script, "sh", *positional]
        return self._exec(argv, stdin, timeout)

    def tmux_and_processes(self, args: Sequence[str]) -> tuple[Result, proctree.Processes]:
        """One exec for both; with cached reads the tmux command runs alone and the process
        table only if it is read: that tmux command is the one is-running just ran, so the
        helper answers it from its cache (`providers.kube.transport.answers`), and a pane
        whose own command answers never pays for ``ps``."""
        if self.cached_reads:
            return self.tmux(args), proctree.Deferred(self.processes)
        argv = ["sh", "-c", PREAMBLE + PROCESSES_SCRIPT, "sh", *command_line([args])]
        return split_processes(self._exec(argv, None, None, retry=args[0] in READ_ONLY))

    def processes(self) -> proctree.ListedProcesses:
        """The pod's process table (empty when it cannot be read: then nothing matches)."""
        res = self._exec(["sh", "-c", PS_SCRIPT], None, None, retry=True)
        comm, _, args = res.out.decode("utf-8", "replace").partition(SEP + "\n")
        return proctree.ListedProcesses(comm, args)

    def script_file(self, path: str, *, env: dict[str, str] | None = None,
                    cwd: str | None = None, timeout: float | None = None) -> Result:
        """The host file's content goes to ``sh -s`` in the pod on stdin."""
        try:
            with open(path, "rb") as f:
                content = f.read()
        except OSError as error:
            return Result(1, b"", f"{path}: {error.strerror}".encode())
        return self.shell("exec sh -s", (), stdin=content, env=env, cwd=cwd, timeout=timeout)


def env_block(env: dict[str, str]) -> bytes:
    """`ENV_FROM_STDIN`'s input for ``env``; names must be shell identifiers."""
    import base64

    lines = []
    for key, value in env.items():
        if not key or key[0].isdigit() or not (key.isascii() and key.replace("_", "a").isalnum()):
            raise ValueError(f"not an environment variable name: {key!r}")
        lines.append(f"{key} {base64.b64encode(value.encode()).decode()}\n")
    return "".join(lines).encode() + b".\n"


def split_processes(res: Result) -> tuple[Result, proctree.Processes]:
    """Split `PROCESSES_SCRIPT` output into the tmux result and the process table."""
    if isinstance(res, Missing):
        return res, proctree.ListedProcesses("", "")
    marker = ("\n" + SEP).encode()
    head, found, tail = res.out.partition(marker)
    if not found:
        return Result(res.rc or 1, res.out, res.err), proctree.ListedProcesses("", "")
    rc_line, _, listings = tail.partition(b"\n")
    rc = int(rc_line) if rc_line.strip().isdigit() else 1
    comm, _, args = listings.decode("utf-8", "replace").partition(SEP + "\n")
    return Result(rc, head, res.err), proctree.ListedProcesses(comm, args)
