"""`LocalRunner`: the tmux `Runner` for sessions on this machine's tmux socket."""

from __future__ import annotations

from protocol import proc
from providers.tmux.runner import sh_quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from providers.tmux import proctree


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
