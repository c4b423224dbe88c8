"""Where tmux commands run: the `Runner` seam, and the one rule for tmux arguments.

The session logic in `providers.tmux.session` never spawns anything itself; it
asks a runner. `providers.gc_session_tmux.local_runner.LocalRunner` runs tmux on
this machine against the provider's own socket; `gc_session_k8s.pod_runner.PodRunner`
sends the same commands through one exec into the pod, where the session is always
named ``main``.

Every argument reaches tmux through `command_line` (argv) or `script` (a
command file read with ``source-file -``), never spliced by hand:

* tmux ends a command at ANY argv element ending in ``;`` (verified on 3.3a:
  ``send-keys s 'a;' kill-server`` runs kill-server). Its parser turns a final
  ``\\;`` into a literal ``;``, so `escape` puts a backslash before a final ``;``
  and the value arrives byte for byte (``;``, ``a;``, ``\\;``, ``;;`` all round-trip).
* Values that may be secret or large go in a command file on stdin instead
  (argv is visible in ``ps`` and a tmux command line is capped near 16 KB);
  `quote` single-quotes a token for tmux's config language, where nothing
  inside single quotes is special but ``'`` itself.
* No caller value ever goes into an argument tmux expands as a format
  (``new-session -c``, ``display-message``, ``if-shell -F``, ``-F`` of any command):
  there ``#(cmd)`` runs a command and no escaping keeps every value (tmux keeps
  ``##[`` as written, for styles). `by_option` stores the value in a server user
  option, which ``set-option`` without ``-F`` never expands, and the argument is
  ``#{@option}``, whose value expansion inserts as is, never expanded again.
  Every other argument tmux takes as written (``-e``, ``set-environment``,
  ``set-option`` and ``send-keys`` without ``-F``, ``load-buffer`` from stdin).
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

        def tmux(self, *commands: Sequence[str], stdin: bytes | None = None,
                 timeout: float | None = None) -> proc.Result:
            """Run tmux commands (each a list of arguments) in one client, in order."""

        def shell(self, script: str, args: Sequence[str] = (), *, stdin: bytes | None = None,
                  env: dict[str, str] | None = None, cwd: str | None = None,
                  timeout: float | None = None) -> proc.Result:
            """Run a POSIX sh script with positional ``args``; ``t`` is this tmux."""

        def tmux_and_processes(self, args: Sequence[str]) -> tuple[proc.Result, proctree.Processes]:
            """Run a tmux command and snapshot the processes in one round trip."""

        def script_file(self, path: str, *, env: dict[str, str] | None = None,
                        cwd: str | None = None, timeout: float | None = None) -> proc.Result:
            """Run a host script file with sh where the session lives."""


def escape(arg: str) -> str:
    """An argv element tmux reads back as exactly ``arg``, never as a command end."""
    return arg[:-1] + "\\;" if arg.endswith(";") else arg


def command_line(commands: Sequence[Sequence[str]]) -> list[str]:
    """tmux argv for ``commands``: every argument escaped, bare ``;`` only between them."""
    argv: list[str] = []
    for command in commands:
        if argv:
            argv.append(";")
        argv += [escape(a) for a in command]
    return argv


#: Characters a double-quoted token of tmux's config language must escape: the escape
#: character, the quote, ``$`` (environment expansion) and a leading-``~`` home expansion.
_SPECIAL = {"\\": "\\\\", '"': '\\"', "$": "\\$", "~": "\\176", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quote(token: str) -> str:
    """One token of tmux's config language (``source-file``), taken literally.

    Double quotes with escapes, not single quotes: inside single quotes tmux drops the
    whitespace that follows a newline (a work dir or value ``a\\n\\tb`` lost its tab).
    Other control characters go as octal escapes.
    """
    out = ['"']
    for ch in token:
        special = _SPECIAL.get(ch)
        if special is not None:
            out.append(special)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def script(commands: Sequence[Sequence[str]]) -> bytes:
    """A command file for ``source-file -``: one command per line, every token quoted."""
    return "".join(" ".join(quote(a) for a in command) + "\n" for command in commands).encode()


def script_line(commands: Sequence[Sequence[str]]) -> bytes:
    """``commands`` as ONE line of a command file: one command list, so that when one
    command fails tmux runs none of those after it (each line is a list of its own)."""
    return (" ; ".join(" ".join(quote(a) for a in command) for command in commands)
            + "\n").encode()


def by_option(holder: str, value: str) -> tuple[list[str], str, list[str]]:
    """How ``value`` reaches an argument tmux expands as a format, literally: the command
    storing it in the server user option ``holder`` (``@`` and a name unique to the
    caller), the format argument that reads it back, and the command forgetting it."""
    return (["set-option", "-s", holder, value], "#{" + holder + "}",
            ["set-option", "-s", "-u", holder])


def sh_quote(value: str) -> str:
    """Single-quote a value for POSIX sh (what `shlex.quote` does, without the import)."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


class Missing(proc.Result):
    """A runner's typed "this session's box is gone" (its pod deleted, its container not
    running): the shared logic reads it as a missing session without parsing any text."""

    __slots__ = ()

    def __init__(self, why: str) -> None:
        super().__init__(1, b"", why.encode())
