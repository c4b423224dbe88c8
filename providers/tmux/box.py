"""The box ops both session providers share: `exec`'s command, `watch-startup`'s
snapshots and the tmux carrier Gas City drives through `exec`.

Written against a `providers.tmux.runner.Runner`, like `providers.tmux.session`:
`gc-session-tmux` reaches its box (the host) with a `LocalRunner`; a pod runner can
take the same functions once its side adopts them.

* `command` checks the POSIX shell-quoted command `exec` and `proc-stream` read on
  stdin: no NUL (no shell can take one), at most `COMMAND_MAX` bytes (the kernel's
  limit for one argument: ``sh -c`` gets it whole).
* `watch` reads the screen as `peek` shows it and hands `snapshot` lines
  (``{"content": "<screen>"}\\n``, one JSON object per line) to a writer only when it
  changed: one process for the whole watch instead of one `peek` per poll.
* `carry` runs the tmux commands gc sends over `exec` once ``proc.exec`` is declared
  (``tmux send-keys -t main ...``, ``capture-pane``, ``has-session``, ``new-session -d
  -s main <cmd>``, ``respawn-pane -k -t main <cmd>``): ``main`` is the box's session,
  which locally carries the session's own name on a shared server, so each target
  ``main`` becomes the exact target of the runner's session, and a launch gets the
  box's work dir and environment (`Launch`).
"""

from __future__ import annotations

import orjson

from protocol.errors import UsageError
from providers.tmux import session
from providers.tmux.runner import by_option, script, script_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from protocol import proc
    from providers.tmux.runner import Runner

#: One argument may take at most this much, its NUL included (MAX_ARG_STRLEN).
COMMAND_MAX = 128 * 1024 - 1
#: How often `watch` looks at the screen (seconds).
WATCH_INTERVAL = 0.1
#: The session name Gas City's tmux carrier targets.
CARRIER_SESSION = "main"


def command(raw: bytes, op: str) -> bytes:
    """The command `exec`/`proc-stream` read on stdin, or one line saying why not."""
    if b"\0" in raw:
        raise UsageError(f"{op}: the command contains a NUL byte, which no shell can run")
    if len(raw) > COMMAND_MAX:
        raise UsageError(f"{op}: the command is {len(raw)} bytes; at most {COMMAND_MAX} "
                         "(the kernel's limit for one argument)")
    if not raw.strip():
        raise UsageError(f"{op}: no command on stdin")
    return raw


def snapshot(screen: str) -> bytes:
    """One `watch-startup` event: a JSON object and a newline (orjson escapes every
    newline inside the text, so a snapshot is always exactly one line)."""
    return orjson.dumps({"content": screen}) + b"\n"


def screen(r: Runner) -> str | None:
    """The visible screen as `peek` shows it (trailing blank lines removed), or None
    when the session is not there."""
    res = r.tmux(["capture-pane", "-p", "-t", session.target(r)])
    if not res.ok:
        return None
    return res.out.decode("utf-8", "replace").rstrip()


def watch(r: Runner, write: Callable[[bytes], None], *, sleep: Callable[[float], None],
          interval: float = WATCH_INTERVAL) -> int:
    """Write a snapshot now and after each change until the session is gone or the
    writer raises; the number of snapshots written. A session missing before the first
    snapshot is an error (gc reads a non-zero exit before any event as a failed start)."""
    from protocol.errors import ProviderError

    last: str | None = None
    sent = 0
    while True:
        text = screen(r)
        if text is None:
            if sent:
                return sent
            raise ProviderError(f"watch-startup: session {r.target!r} not found")
        if text != last:
            write(snapshot(text))
            sent += 1
            last = text
        sleep(interval)


class Launch:
    """What a carried launch (`new-session`, `respawn-pane`) starts the agent with."""

    __slots__ = ("env", "work_dir")

    def __init__(self, work_dir: str, env: dict[str, str]) -> None:
        self.work_dir = work_dir
        self.env = env


def retarget(args: Sequence[str], exact: str, name: str) -> list[str]:
    """``args`` with each ``-t main[...]`` aimed at ``exact`` and ``-s main`` named ``name``."""
    out: list[str] = []
    flag = ""
    for arg in args:
        if flag == "-t" and (arg == CARRIER_SESSION or arg.startswith(CARRIER_SESSION + ":")):
            rest = arg[len(CARRIER_SESSION) + 1:]
            arg = exact + rest if rest else exact
        elif flag == "-s" and arg == CARRIER_SESSION:
            arg = name
        out.append(arg)
        flag = arg if arg in ("-t", "-s") else ""
    return out


def _launch_args(args: Sequence[str], launch: Launch, holder: str) -> tuple[list[list[str]], list[str]]:
    """The store/forget commands and the `-c`/`-e` arguments that start a carried
    launch in the box's work dir with its environment."""
    store, reference, forget = by_option(holder, launch.work_dir)
    extra: list[str] = ["-c", reference] if launch.work_dir else []
    for key, value in launch.env.items():
        extra += ["-e", f"{key}={value}"]
    return ([store] if launch.work_dir else []) + [forget], extra


def carry(r: Runner, args: Sequence[str], launch: Launch) -> proc.Result:
    """Run one carried tmux command for the runner's session."""
    import os

    exact = session.target(r)
    args = retarget(args, exact, r.target)
    if not args:
        raise UsageError("tmux: no command")
    verb = args[0]
    if verb == "has-session":
        return r.tmux(["has-session", "-t", f"={r.target}"])
    if verb in ("new-session", "new", "respawn-pane", "respawnp"):
        holder = f"@gc-value-{os.urandom(8).hex()}"
        (*stores, forget), extra = _launch_args(args, launch, holder)
        # The command is the last argument; the box's -c and -e go before it.
        head, command_args = _split_command(verb, args)
        if verb.startswith("new") and "-x" not in head:
            extra += ["-x", "200", "-y", "50"]  # the size `start` gives a session
        commands: list[list[str]] = [*stores, [*head, *extra, *command_args]]
        if verb.startswith("new"):
            exact_pane = f"={r.target}:"
            commands += [["set-option", "-w", "-t", exact_pane, "remain-on-exit", "on"],
                         ["set-option", "-t", exact_pane, "@gc-work-dir", launch.work_dir]]
        # From stdin: this client may start the server, which keeps its argv (env values
        # would show in ps), and one line is one command list (nothing after a failure).
        return r.tmux(["start-server"], ["source-file", "-"],
                      stdin=script_line(commands) + script([forget]))
    return r.tmux(args)


#: Flags of new-session / respawn-pane that take a value (tmux 3.x).
_VALUE_FLAGS = frozenset({"-c", "-e", "-F", "-f", "-n", "-s", "-t", "-x", "-y"})


def _split_command(verb: str, args: Sequence[str]) -> tuple[list[str], list[str]]:
    """``args`` split into the command's flags and its shell-command arguments."""
    i = 1
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return list(args[:i]), list(args[i:])
        if not arg.startswith("-") or arg == "-":
            break
        i += 2 if arg in _VALUE_FLAGS else 1
    rest = list(args[i:])
    return list(args[:i]), (["--", *rest] if rest else [])
