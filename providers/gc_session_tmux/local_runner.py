"""`LocalRunner`: the tmux `Runner` for sessions on this machine's tmux socket."""

from __future__ import annotations

import os

from protocol import proc
from protocol.errors import ProviderError
from providers.gc_session_tmux import sockets
from providers.gc_session_tmux.settings import TMUX
from providers.tmux.runner import command_line, sh_quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from providers.tmux import proctree

#: tmux's own complaints when the server behind a socket is not there.
NO_SERVER = (b"no server running", b"error connecting")


def tmux_binary(environ: Mapping[str, str]) -> str:
    """``$GC_TMUX`` (a path or a name on PATH, default ``tmux``) as an absolute path.

    Resolved here, not by posix_spawnp, so that a missing tmux is an error for
    every operation instead of reading as "no session" (is-running false, stop ok).
    """
    name = TMUX.text(environ)
    if "/" in name:
        candidates = [name]
    else:
        candidates = [f"{d or '.'}/{name}" for d in environ.get("PATH", "/usr/bin:/bin").split(":")]
    for path in candidates:
        if os.access(path, os.X_OK) and os.path.isfile(path):
            return path
    raise ProviderError(f"cannot run tmux: {name!r} not found" +
                        ("" if "/" in name else " on PATH") + " (set GC_TMUX to the tmux binary)")


class LocalRunner:
    """Runs tmux against a socket on this machine."""

    def __init__(self, socket_path: str, target: str,
                 environ: Mapping[str, str] | None = None) -> None:
        sockets.check_dir(socket_path)
        self.socket_path = socket_path
        self.target = target
        self.binary = tmux_binary(os.environ if environ is None else environ)
        self.base = [self.binary, "-u", "-S", socket_path]
        # `t` inside scripts is this runner's tmux; paths are quoted, never spliced raw.
        self.preamble = f't() {{ {sh_quote(self.binary)} -u -S {sh_quote(socket_path)} "$@"; }}\n'
        #: Wraps the argv of host commands (`start` makes them die with it).
        self.guard: Callable[[Sequence[str]], list[str]] | None = None
        #: Run tmux clients in their own process group, out of reach of the signals
        #: Gas City sends a cancelled start's group (`start` handles those itself).
        self.own_group = False

    def tmux(self, *commands: Sequence[str], stdin: bytes | None = None,
             timeout: float | None = None) -> proc.Result:
        argv = [*self.base, *command_line(commands)]
        new_group = self.own_group
        res = self.checked(proc.run(argv, stdin=stdin, timeout=timeout, new_group=new_group))
        if not res.ok and any(m in res.err for m in NO_SERVER) and sockets.revive(self.socket_path):
            res = self.checked(proc.run(argv, stdin=stdin, timeout=timeout, new_group=new_group))
        return res

    def checked(self, res: proc.Result) -> proc.Result:
        if res.rc == 127 and not res.out:  # posix_spawn failed: tmux never ran
            raise ProviderError(f"cannot run tmux: {res.error_text()}")
        return res

    def shell(self, script: str, args: Sequence[str] = (), *, stdin: bytes | None = None,
              env: dict[str, str] | None = None, cwd: str | None = None,
              timeout: float | None = None) -> proc.Result:
        argv = ["sh", "-c", self.preamble + script, "sh", *args]
        if self.guard:
            argv = self.guard(argv)
        return proc.run(argv, stdin=stdin, env=env, cwd=cwd, timeout=timeout, new_group=True)

    def tmux_and_processes(self, args: Sequence[str]) -> tuple[proc.Result, proctree.Processes]:
        from providers.tmux.proctree import LocalProcesses  # only process-alive needs it

        return self.tmux(args), LocalProcesses()

    def script_file(self, path: str, *, env: dict[str, str] | None = None,
                    cwd: str | None = None, timeout: float | None = None) -> proc.Result:
        argv = self.guard(["sh", path]) if self.guard else ["sh", path]
        return proc.run(argv, env=env, cwd=cwd, timeout=timeout, new_group=True)
