"""Every tmux session operation, written once against a `Runner`.

The local provider and the Kubernetes provider both call these functions; only
the runner differs (a local tmux socket, or `kubectl exec` into the pod). Each
function costs one runner round trip unless it says otherwise, which is what
keeps a pod operation at one `kubectl` process.

Every command names the session through `target` and nothing else: tmux
matches a bare or ``=``-prefixed name as a window first and then as a session
*prefix* (on 3.3a ``list-panes -s -t =worker`` finds ``worker-2``), while
``=name:`` is an exact session name with its current window and pane, and is
accepted by session, window and pane commands alike (verified on 3.3a for
list-panes, list-windows, set/show-environment, set/show-options,
capture-pane, clear-history, send-keys, paste-buffer, display-message,
has-session and kill-session). Every argument goes through
`providers.tmux.runner` (argv escaping, or a command file on stdin).
"""

from __future__ import annotations

import os
import time

from protocol.errors import ProviderError
from providers.tmux import proctree
from providers.tmux.runner import Missing, script

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from protocol.proc import Result
    from providers.tmux.runner import Runner

MISSING = ("can't find session", "no server running", "can't find pane", "can't find window",
           "session not found", "no such session", "error connecting",
           "no such file or directory",
           # The server has no session at all (its last one just ended and it has not
           # exited yet): tmux cannot resolve any target, ours included.
           "no current target", "no current session",
           # The server exited (its last session ended) while this client talked to it.
           "server exited unexpectedly", "lost server")


def target(r: Runner) -> str:
    """The one exact target for the runner's session (see the module docstring)."""
    return "=" + r.target + ":"


#: Older names of `target`, kept for callers outside this package.
session = pane = target


def is_missing(result: Result) -> bool:
    """Did tmux fail because the session (or its whole server, or its pod) is not there?"""
    if isinstance(result, Missing):
        return True
    text = result.err.decode("utf-8", "replace").lower()
    return any(m in text for m in MISSING)


def is_running(r: Runner) -> bool:
    """True while at least one of the session's panes is alive."""
    res = r.tmux(probe(r))
    return res.ok and any(not pane.dead for pane in panes(res.out))


def is_attached(r: Runner) -> bool:
    res = r.tmux(["display-message", "-p", "-t", target(r), "#{session_attached}"])
    text = res.out.strip()
    return res.ok and text.isdigit() and int(text) > 0


def get_meta(r: Runner, key: str) -> str:
    """The value stored under ``key``; empty when unset or the session is gone."""
    res = r.tmux(["show-environment", "-t", target(r), "--", key])
    if not res.ok:
        return ""
    text = res.out.decode("utf-8", "replace")
    head = key + "="
    if not text.startswith(head):
        return ""  # "-KEY": marked removed
    value = text[len(head) :]
    return value[:-1] if value.endswith("\n") else value


def set_meta(r: Runner, key: str, value: str) -> None:
    """Store ``value`` byte for byte, at any size.

    The value travels in a command file on stdin (``source-file -``), never in
    argv: a tmux command line is capped near 16 KB, and argv shows in ``ps``.
    A failed call changes nothing, so a stored value is never lost.
    """
    if "\0" in value:
        raise ProviderError("set-meta: the value contains a NUL byte, which tmux cannot store")
    command = ["set-environment", "-t", target(r), "--", key, value]
    res = r.tmux(["source-file", "-"], stdin=script([command]))
    if not res.ok:
        raise ProviderError(_why(r, res, "set-meta"))


def remove_meta(r: Runner, key: str) -> None:
    """Idempotent: an unset key or a missing session is already removed."""
    res = r.tmux(["set-environment", "-t", target(r), "-u", "--", key])
    if not res.ok and not is_missing(res) and b"unknown variable" not in res.err:
        raise ProviderError(_why(r, res, "remove-meta"))


def peek(r: Runner, lines: int) -> str:
    """The pane's text: the last ``lines`` lines of history plus the screen (all if ≤ 0)."""
    start = "-" if lines <= 0 else f"-{lines}"
    res = r.tmux(["capture-pane", "-p", "-t", target(r), "-S", start])
    if not res.ok:
        raise ProviderError(_why(r, res, "peek"))
    return res.out.decode("utf-8", "replace").rstrip()


def last_activity(r: Runner) -> str:
    """RFC 3339 time of the latest window activity; empty when unknown.

    ``session_activity`` does not advance for detached sessions (verified on
    tmux 3.3a), so the newest ``window_activity`` is used, as Gas City does.
    """
    res = r.tmux(probe(r))
    stamps = [pane.activity for pane in panes(res.out)] if res.ok else []
    if not stamps:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(max(stamps)))


def clear_scrollback(r: Runner) -> None:
    res = r.tmux(["clear-history", "-t", target(r)])
    if not res.ok and not is_missing(res):
        raise ProviderError(_why(r, res, "clear-scrollback"))


def send_keys(r: Runner, keys: Sequence[str]) -> None:
    """Bare tmux key names, no implicit Enter; a missing session is not an error.

    Each key is one argument escaped by the runner: ``;`` is the ``;`` key, and
    ``a;`` (not a key name) is typed as the text ``a;``, as tmux types any
    argument that is not a key name; neither can end the tmux command.
    """
    res = r.tmux(["send-keys", "-t", target(r), *keys])
    if not res.ok and not is_missing(res):
        raise ProviderError(_why(r, res, "send-keys"))


def interrupt(r: Runner) -> None:
    send_keys(r, ["C-c"])


# The message arrives on stdin and goes into a tmux buffer, then is pasted
# without LF→CR translation: byte-for-byte what `send-keys -l` types, but never
# parsed as key names or flags and with no command-length limit (≥100 KB works).
# Commands are chained with `;`: with a pause, typing is one tmux call and
# submitting one more (retried); without one, a single call does both. A missing
# session fails the first call, which `nudge` reads as gone.
#
# Never paste into a dead pane: `paste-buffer` into a remain-on-exit corpse
# crashes the whole tmux 3.3a server, every session with it. `#{pane_dead}` is
# checked by if-shell in the same command list as the paste, so the pane cannot
# die in between (tmux handles the exit only between command lists); a dead
# pane prints `gc-dead` and the nudge is a no-op, as for a missing session.
# $P and $B (an exact target and gc-nudge-<pid>) are ours, never caller text.
NUDGE_SCRIPT = r"""
P=$1 B=$2 pause=$3 wake=$4
set -- send-keys -t "$P" Enter \; display-message -p -t "$P" '#{pane_dead} #{session_attached} #{pane_pid}'
paste() { t if-shell -F -t "$P" '#{pane_in_mode}' 'send-keys -X cancel' \; \
  load-buffer -b "$B" - \; if-shell -F -t "$P" '#{pane_dead}' \
  "delete-buffer -b $B ; display-message -p gc-dead" "paste-buffer -d -r -b $B -t $P" "$@"; }
if [ "$pause" = 0.000 ]; then
  state=$(paste \; "$@") || exit 1
else
  state=$(paste) || exit 1
  case $state in gc-dead*) exit 0 ;; esac
  sleep "$pause"
  n=0
  until state=$(t "$@"); do
    n=$((n + 1)); [ "$n" -ge 3 ] && exit 1; sleep 0.2
  done
fi
case $state in gc-dead*|1\ *) exit 0 ;; esac
# Wake a detached TUI with SIGWINCH to the terminal's foreground job (field 8 of
# /proc/PID/stat, tpgid), as a resize would, without pinning the window size.
state=${state#* }
if [ "$wake" = 1 ] && [ "${state%% *}" = 0 ] && read -r stat < "/proc/${state##* }/stat"; then
  set -- ${stat##*) }
  [ "${6:-0}" -gt 0 ] && kill -s WINCH -- "-$6" 2>/dev/null
fi
exit 0
"""

def debounce_seconds(environ: Mapping[str, str]) -> str:
    from protocol.settings import NUDGE_DEBOUNCE_MS

    return f"{NUDGE_DEBOUNCE_MS.whole(environ) / 1000:.3f}"


def nudge(r: Runner, message: bytes, *, debounce: str = "0.500", wake: bool = True) -> None:
    """Type ``message`` literally, pause, press Enter (retried), wake if detached.

    Best-effort: a missing session is not an error. Callers serialize nudges
    per session with a lock, because two interleaved pastes garble both.
    """
    if not message:
        return
    buffer = f"gc-nudge-{os.getpid()}"
    res = r.shell(NUDGE_SCRIPT, [target(r), buffer, debounce, "1" if wake else "0"],
                  stdin=message, timeout=25)
    if not res.ok and not is_missing(res):  # a session (or pod) that is gone: best-effort
        raise ProviderError(_why(r, res, "nudge"))


#: One line per pane; the command is last because it may hold spaces.
PANES_FORMAT = "#{pane_pid} #{pane_dead} #{window_activity} #{pane_current_command}"


class Pane:
    """One pane of a `PANES_FORMAT` listing (a plain class: `typing` is too heavy to
    import in a hot op); ``activity`` is the Unix time of its window's latest output."""

    __slots__ = ("activity", "command", "dead", "pid")

    def __init__(self, pid: int, dead: bool, activity: int, command: str) -> None:
        self.pid = pid
        self.dead = dead
        self.activity = activity
        self.command = command


def panes(out: bytes) -> list[Pane]:
    """The panes of a `PANES_FORMAT` listing (lines that do not parse are skipped)."""
    found = []
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0].isdigit() and parts[1] in ("0", "1") and parts[2].isdigit():
            found.append(Pane(int(parts[0]), parts[1] == "1", int(parts[2]),
                              parts[3] if len(parts) > 3 else ""))
    return found


def live_panes(out: bytes) -> list[tuple[int, str]]:
    """(pid, current command) of each live pane in a `PANES_FORMAT` listing."""
    return [(pane.pid, pane.command) for pane in panes(out) if not pane.dead]


def probe(r: Runner) -> list[str]:
    """The tmux command listing the session's panes (`PANES_FORMAT`).

    is-running, process-alive and get-last-activity all read this one listing, so the
    three questions gc asks of a session each tick are one command: a helper that keeps
    an answer for a moment (`providers.kube.transport.answers`) serves them all with one
    exec into the pod.
    """
    return ["list-panes", "-s", "-t", target(r), "-F", PANES_FORMAT]


def process_alive(r: Runner, names: Sequence[str]) -> bool:
    """Is a process with one of ``names`` running in the session's panes?"""
    wanted = [n for n in names if n]
    if not wanted:
        return True  # gc never asks with no names; an empty ask is trivially true
    res, procs = r.tmux_and_processes(probe(r))
    if not res.ok:
        return False
    return any(command in wanted or proctree.tree_has(procs, pid, wanted)
               for pid, command in live_panes(res.out))


def pane_pids(r: Runner) -> list[int]:
    res = r.tmux(["list-panes", "-s", "-t", target(r), "-F", "#{pane_pid}"])
    return [int(p) for p in res.out.split() if p.isdigit()] if res.ok else []


def kill_session(r: Runner) -> None:
    res = r.tmux(["kill-session", "-t", target(r)])
    if not res.ok and not is_missing(res):
        raise ProviderError(_why(r, res, "stop"))


def _why(r: Runner, res: Result, op: str) -> str:
    if is_missing(res):
        return f"session {r.target!r} not found"
    return res.error_text() or f"{op} failed (exit {res.rc})"
