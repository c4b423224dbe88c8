"""Where tmux commands run: the `Runner` seam.

The session logic in `providers.tmux.session` never spawns anything itself; it
asks a runner. `providers.gc_session_tmux.local_runner.LocalRunner` runs tmux on
this machine against the provider's own socket; `gc_session_k8s.pod_runner.PodRunner`
sends the same commands through one exec into the pod, where the session is always
named ``main``.
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


class Missing(proc.Result):
    """A runner's typed "this session's box is gone" (its pod deleted, its container not
    running): the shared logic reads it as a missing session without parsing any text."""

    __slots__ = ()

    def __init__(self, why: str) -> None:
        super().__init__(1, b"", why.encode())
