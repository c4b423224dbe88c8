"""`watch-startup` and `proc-stream`: one exec into the pod for the whole op, streamed.

Both ops hold one ``kubectl exec -i`` for as long as they run and relay what it prints
as it comes (a request/response transport cannot stream: the helper and the direct
transport answer whole). The exec's stdin is the op's lifeline and carries nothing: a
small watcher in the pod reads it, and when it ends (this op closed it on SIGTERM or
SIGINT, or died and the kernel closed it, or gc went away and kubectl with it) the
watcher ends the pod side: `proc-stream`'s command loses its whole process group
(``kill -KILL -- -PGID``, the command runs under ``setsid``), `watch-startup`'s loop
its shell. So a cancelled op leaves nothing running in the pod, whichever way it ended.

* `watch-startup`: the pod's shell looks at the screen every `WATCH_INTERVAL` seconds
  (``tmux capture-pane``, in the pod) and prints a record only when it changed
  (``S<bytes>\\n<screen>``); this side turns each into gc's ``{"content": ...}`` line
  (`providers.tmux.box.snapshot`). ``E\\n``: the session ended (exit 0; before any
  snapshot: not found, exit 1). One exec for the whole watch, not one per look.
* `proc-stream`: the command (a shell-quoted argv, as for `exec`) runs by ``sh -c`` in
  the work dir with no input; its stdout and stderr reach ours apart, each read written
  on at once. The pod side says ``\\x1egc-up`` on stdout before the command starts (an
  exec that fails before it is the cluster's failure: one line, exit 1) and
  ``\\x1egc-rc:N`` last: the op exits N; a stream that ends without it is a transport
  failure (exit 1).
"""

from __future__ import annotations

import os

from gc_session_k8s.naming import AGENT_CONTAINER, SESSION_ENV
from gc_session_k8s.pod_runner import FOREIGN, guarded
from protocol.errors import ExitWith, ProviderError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from providers.kube.settings import KubeSettings

#: How often the pod's shell looks at the screen (seconds), as `providers.tmux.box.watch`.
WATCH_INTERVAL = "0.1"
#: How long a cancelled op waits for the pod side to end before it kills kubectl.
CANCEL_WAIT = 5.0

#: The pod side's lifeline: a background reader of the exec's stdin (kept as fd 3) that
#: runs the script's ``gone`` when it ends. Its output goes nowhere, so it never holds the
#: exec's stream open; ``$w`` is its pid.
LIFELINE = ('exec 3<&0 </dev/null\n'
            '{ while read -r _; do :; done; gone; } <&3 >/dev/null 2>&1 &\n'
            'w=$!\nexec 3<&-\n')

#: ``$1``: the exact tmux target. Records: ``S<bytes>\n<screen>``, ``E\n`` at the end.
WATCH_SCRIPT = (
    'me=$$\ngone() { kill -s TERM "$me" 2>/dev/null; }\n' + LIFELINE
    + 'last= first=1\n'
    'while :; do\n'
    '  if s=$(tmux -u capture-pane -p -t "$1" 2>/dev/null); then\n'
    '    if [ -n "$first" ] || [ "$s" != "$last" ]; then\n'
    '      n=$(printf %s "$s" | wc -c); printf "S%s\\n%s" $n "$s"; last=$s; first=\n'
    '    fi\n'
    '  else\n'
    '    printf "E\\n"; kill "$w" 2>/dev/null; exit 0\n'
    '  fi\n'
    f'  sleep {WATCH_INTERVAL}\n'
    'done\n'
)

UP = b"\x1egc-up\n"
RC = b"\x1egc-rc:"
#: ``$1``: the command; ``$2``: directories put first on PATH (`tools_path`).
PROC_STREAM_SCRIPT = (
    'cd -- "${GC_DIR:-.}" 2>/dev/null\n'
    f'export GC_SESSION="${{{SESSION_ENV}-}}"\n'
    '[ -z "${2-}" ] || PATH=$2:$PATH\n'
    'c=\ngone() { [ -z "$c" ] || kill -s KILL -- "-$c" 2>/dev/null || kill -s KILL "$c" 2>/dev/null; }\n'
    'exec 3<&0 </dev/null\n'
    "printf '\\036gc-up\\n'\n"
    'if command -v setsid >/dev/null 2>&1; then setsid sh -c "$1" 3<&- &\n'
    'else sh -c "$1" 3<&- & fi\n'
    'c=$!\n'
    '{ while read -r _; do :; done; gone; } <&3 >/dev/null 2>&1 &\n'
    'w=$!\nexec 3<&-\n'
    'wait "$c"; rc=$?\n'
    'kill -s KILL -- "-$c" 2>/dev/null\n'  # what it left behind in its group
    'kill "$w" 2>/dev/null\n'
    "printf '\\036gc-rc:%s\\n' \"$rc\"\n"
    'exit "$rc"\n'
)


def tools_path(environ: Mapping[str, str]) -> str:
    """``GC_K8S_TOOLS_PATH``: directories of the image holding gc, bd and git, first on the
    PATH of `exec` and `proc-stream` (env.tooling; see `gc_session_k8s.env`)."""
    return environ.get("GC_K8S_TOOLS_PATH") or ""


class Exec:
    """One ``kubectl exec -i`` with its stdin held (the lifeline) and its output piped."""

    def __init__(self, settings: KubeSettings, pod: str, session: str, argv: Sequence[str]) -> None:
        import time

        from providers.kube.kubectl import exec_argv, kubectl_env

        self.pod = pod
        self.argv = exec_argv(settings, pod, AGENT_CONTAINER, guarded(argv, session), stdin=True)
        self.started = time.monotonic()
        in_r, self.lifeline = os.pipe()
        self.out, out_w = os.pipe()
        self.err, err_w = os.pipe()
        for fd in (self.lifeline, self.out, self.err):
            os.set_inheritable(fd, False)
        env = kubectl_env() or dict(os.environ)
        try:
            self.pid = os.posix_spawnp(self.argv[0], self.argv, env, setpgroup=0, file_actions=[
                (os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2)])
        except OSError as error:
            raise ProviderError(f"cannot run {self.argv[0]!r}: {error.strerror} "
                                "(install kubectl or set GC_KUBECTL)") from None
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        self.rc: int | None = None

    def cut(self) -> None:
        """Close the lifeline: the pod side ends what it runs."""
        if self.lifeline >= 0:
            try:
                os.close(self.lifeline)
            except OSError:
                pass
            self.lifeline = -1

    def kill(self) -> None:
        import signal

        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self) -> int:
        if self.rc is None:
            from providers.kube import audit

            _, status = os.waitpid(self.pid, 0)
            self.rc = os.waitstatus_to_exitcode(status)
            audit.record(self.argv, pod=self.pod, started=self.started, rc=self.rc)
        return self.rc

    def failure(self, err: bytes) -> ProviderError:
        """The one line for an exec that ended before the pod side started."""
        from providers.kube.classify import exec_failure
        from providers.kube.errors import PodGone

        text = err.decode("utf-8", "replace").strip()
        if text.startswith(FOREIGN):
            return ProviderError(f"session is not running: pod {self.pod} belongs to another session")
        error = exec_failure(text or f"kubectl exited {self.wait()}", self.pod, self.wait() or 1)
        if isinstance(error, PodGone):
            return ProviderError(f"session is not running: {error}")
        return ProviderError(str(error))


class Relay:
    """Reads an `Exec`'s stdout and stderr as they come, until both end or the op is
    cancelled (a signal, or our stdout closed): then the lifeline is cut and kubectl given
    `CANCEL_WAIT` seconds before it is killed."""

    def __init__(self, ex: Exec) -> None:
        self.ex = ex
        self.cancelled = 0
        self.deadline = 0.0
        self.open = {ex.out: "out", ex.err: "err"}

    def cancel(self, signum: int = 0, frame: object = None) -> None:
        import time

        if not self.cancelled:
            self.cancelled = signum or -1
            self.deadline = time.monotonic() + CANCEL_WAIT
            self.ex.cut()

    def catch_signals(self) -> None:
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.cancel)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def chunks(self) -> Sequence[tuple[str, bytes]]:
        """The next reads (``("out"|"err", bytes)``; ``b""`` at a stream's end), or ``[]``
        once both ended."""
        import select
        import time

        while self.open:
            timeout = None
            if self.cancelled:
                timeout = max(0.0, self.deadline - time.monotonic())
                if timeout == 0.0:
                    self.ex.kill()
                    timeout = None
            ready, _, _ = select.select(list(self.open), [], [], timeout)
            got = []
            for fd in ready:
                data = os.read(fd, 65536)
                got.append((self.open[fd], data))
                if not data:
                    del self.open[fd]
                    os.close(fd)
            if got:
                return got
        return []

    def write(self, fd: int, data: bytes) -> bool:
        """``data`` written whole to ``fd``; False when the reader is gone (a cancel)."""
        try:
            while data:
                data = data[os.write(fd, data):]
        except OSError:
            self.cancel()
            return False
        return True


# --- watch-startup ---------------------------------------------------------------

def watch_startup(settings: KubeSettings, pod: str, session: str, target: str) -> None:
    """Snapshots on stdout until the session ends (exit 0) or gc cancels (exit 0)."""
    from providers.tmux.box import snapshot

    ex = Exec(settings, pod, session, ["sh", "-c", WATCH_SCRIPT, "sh", target])
    relay = Relay(ex)
    relay.catch_signals()
    buf = b""
    err = b""
    sent = 0
    ended = False
    last: str | None = None
    while chunks := relay.chunks():
        for stream, data in chunks:
            if stream == "err":
                err += data
                continue
            buf += data
            while not ended:
                head, nl, rest = buf.partition(b"\n")
                if not nl:
                    break
                if head == b"E":
                    ended, buf = True, rest
                    break
                if not head.startswith(b"S") or not head[1:].strip().isdigit():
                    relay.cancel()
                    ended = True
                    err += b"watch-startup: unexpected output from the pod: " + head[:80] + b"\n"
                    break
                size = int(head[1:])
                if len(rest) < size:
                    break
                text = rest[:size].decode("utf-8", "replace").rstrip()
                buf = rest[size:]
                if text != last and not relay.cancelled:
                    last = text
                    sent += 1
                    relay.write(1, snapshot(text))
    rc = ex.wait()
    if relay.cancelled:
        raise ExitWith(0)
    if ended and sent:
        return
    if ended:
        raise ProviderError(f"watch-startup: session {session!r} not found")
    if sent:
        raise ProviderError(f"watch-startup: the stream from pod {pod} ended (kubectl exit {rc}): "
                            f"{' '.join(err.decode('utf-8', 'replace').split())[:300]}")
    raise ex.failure(err)


# --- proc-stream -----------------------------------------------------------------

def proc_stream(settings: KubeSettings, pod: str, session: str, command: bytes,
                tools: str = "") -> None:
    """Run ``command`` in the pod, streaming its stdout and stderr; exit: the command's."""
    from providers.kube.kubectl import EXIT_MARKER

    text = command.decode("utf-8", "surrogateescape")
    ex = Exec(settings, pod, session, ["sh", "-c", PROC_STREAM_SCRIPT, "sh", text, tools])
    relay = Relay(ex)
    relay.catch_signals()
    up = False
    head = b""  # stdout before UP
    err_held = b""  # stderr before UP (the cluster's failure, if it never comes)
    last = LastWord()
    while chunks := relay.chunks():
        for stream, data in chunks:
            if stream == "err":
                if not up:
                    err_held += data
                    continue
                if EXIT_MARKER.encode() in data:
                    from providers.kube.kubectl import strip_exit_marker

                    data = strip_exit_marker(data)
                relay.write(2, data)
                continue
            if not up:
                head += data
                if len(head) < len(UP) and UP.startswith(head):
                    continue
                if not head.startswith(UP):
                    relay.cancel()
                    err_held += head
                    head = b""
                    continue
                up, data, head = True, head[len(UP):], b""
                if err_held:
                    relay.write(2, err_held)
                    err_held = b""
            data = last.feed(data)
            if data:
                relay.write(1, data)
    rc = ex.wait()
    if relay.cancelled:
        raise ExitWith(128 + relay.cancelled if relay.cancelled > 0 else 1)
    if not up:
        raise ex.failure(err_held)
    rest, code = last.end()
    if code is None:
        if rest:
            relay.write(1, rest)
        raise ProviderError(f"proc-stream: the stream from pod {pod} ended before the command "
                            f"reported its exit (kubectl exit {rc})")
    raise ExitWith(code)


class LastWord:
    """The command's stdout passed on as it comes, less the pod side's last word
    (``\x1egc-rc:N\n``, `RC`): what could be its start is held back until more comes."""

    def __init__(self) -> None:
        self.held = b""

    def feed(self, data: bytes) -> bytes:
        """What may be written on now."""
        data = self.held + data
        cut = data.rfind(b"\x1e")
        if cut >= 0 and _maybe_rc(data[cut:]):
            data, self.held = data[:cut], data[cut:]
        else:
            self.held = b""
        return data

    def end(self) -> tuple[bytes, int | None]:
        """At the stream's end: ``(b"", N)`` after the last word, else ``(what was held,
        None)``."""
        code = _rc(self.held)
        return (b"", code) if code is not None else (self.held, None)


def _maybe_rc(data: bytes) -> bool:
    """Could ``data`` be (the start of) the RC record?"""
    if len(data) <= len(RC):
        return RC.startswith(data)
    if not data.startswith(RC):
        return False
    digits = data[len(RC):]
    digits = digits[:-1] if digits.endswith(b"\n") else digits
    return digits.isdigit() or not digits


def _rc(tail: bytes) -> int | None:
    if tail.startswith(RC) and tail.endswith(b"\n") and tail[len(RC):-1].isdigit():
        return int(tail[len(RC):-1])
    return None

