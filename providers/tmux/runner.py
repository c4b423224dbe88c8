"""Where tmux commands run: the `Runner` seam and its local implementation.

The session logic in `providers.tmux.session` never spawns anything itself; it
asks a runner. `LocalRunner` runs tmux on this machine against the provider's
own socket. The Kubernetes provider's runner sends the same commands through
one `kubectl exec` into the pod, where the session is always named ``main``.
"""

from __future__ import annotations

from protocol import proc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Protocol

    from providers.tmux import proctree

    class Runner(Protocol):
        """Runs tmux and POSIX sh for one session's tmux server."""

        #: The tmux session name inside this runner's server.
        target: str

        def tmux(self, args: Sequence[str], *, stdin: bytes | None = None,
                 timeout: float | None = None) -> proc.Result:
            """Run one tmux command line (``;`` arguments chain commands)."""

        def shell(self, script: str, args: Sequence[str] = (), *, stdin: bytes | None = None,
                  env: dict[str, str] | None = None, cwd: str | None = None,
                  timeout: float | None = None) -> proc.Result:
            """Run a POSIX sh script with positional ``args``; ``t`` is this tmux."""

        def tmux_and_processes(self, args: Sequence[str]) -> tuple[proc.Result, proctree.Processes]:
            """Run a tmux command and snapshot the processes in one round trip."""

        def script_file(self, path: str, *, env: dict[str, str] | None = None,
                        cwd: str | None = None, timeout: float | None = None) -> proc.Result:
            """Run a host script file with sh where the session lives."""


def sh_quote(value: str) -> str:
    """Single-quote a value for POSIX sh (what `shlex.quote` does, without the import)."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


class LocalRunner:
    """Runs tmux against a socket on this machine."""

    def __init__(self, socket_path: str, target: str) -> None:
        self.socket_path = socket_path
        self.target = target
        self.base = ["tmux", "-u", "-S", socket_path]
        # `t` inside scripts is this runner's tmux; the path is quoted, never spliced raw.
        self.preamble = f't() {{ tmux -u -S {sh_quote(socket_path)} "$@"; }}\n'

    def tmux(self, args: Sequence[str], *, stdin: bytes | None = None,
             timeout: float | None = None) -> proc.Result:
        return proc.run([*self.base, *args], stdin=stdin, timeout=timeout)

    def shell(self, script: str, args: Sequence[str] = (), *, stdin: bytes | None = None,
              env: dict[str, str] | None = None, cwd: str | None = None,
              timeout: float | None = None) -> proc.Result:
        argv = ["sh", "-c", self.preamble + script, "sh", *args]
        return proc.run(argv, stdin=stdin, env=env, cwd=cwd, timeout=timeout, new_group=True)

    def tmux_and_processes(self, args: Sequence[str]) -> tuple[proc.Result, proctree.Processes]:
        from providers.tmux.proctree import LocalProcesses  # only process-alive needs it

        return self.tmux(args), LocalProcesses()

    def script_file(self, path: str, *, env: dict[str, str] | None = None,
                    cwd: str | None = None, timeout: float | None = None) -> proc.Result:
        return proc.run(["sh", path], env=env, cwd=cwd, timeout=timeout, new_group=True)
