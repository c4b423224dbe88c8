"""Resident exec streams: the helper keeps one long-lived ``sh`` per pod container and
runs each later command through it, instead of opening a new exec for every op.

A new exec costs the API server an upgrade and the node a fresh process in the
container (on a real kubelet, a runtime exec: tens of ms); a command sent down a stream
that is already open costs one line of input and the command's own fork. gc asks every
session about four questions per 30 s tick, so one stream per pod serves a tick for the
price of one exec, and the next ticks for none.

The stream's shell reads requests from its stdin, each framed by a random token line::

    <token>
    <command text: our argv, every element single-quoted>
    <token>

runs the command in a subshell with stdin from ``/dev/null`` (or, for a command with
input, from ``printf '%b'`` of that input quoted with its backslashes doubled: exact
bytes, no trailing newline added), then writes ``\\n<token> <exit code>\\n`` to stdout and
``\\n<token>\\n`` to stderr. The token is drawn after the command is built, so no output
can forge the end of an answer. Nothing a caller wrote is ever read as shell syntax: it
arrives only inside single quotes, as in `providers.tmux` everywhere else.

What does not fit goes through a normal exec: a NUL in the input (no shell string holds
one), a request over `MAX_REQUEST` (the shell's ``read`` takes a byte per syscall).
A stream whose pod went away fails its next read; a read is then run again through a new
exec, a write (a nudge) is a `KubeUnavailable`, never sent twice - so a write only takes
a stream used within `FRESH_FOR_WRITES`, or a new one.
"""

from __future__ import annotations

import os
import threading
import time

from protocol import metrics
from protocol.proc import Result
from providers.kube.errors import KubeUnavailable
from providers.kube.transport import direct
from providers.kube.transport.websocket import STDERR, STDOUT, StreamLost, read_message, send_stdin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from providers.kube.settings import KubeSettings
    from providers.kube.transport.direct import Opener
    from providers.kube.transport.target import Target
    from providers.kube.transport.tls import Conn
    from providers.kube.transport.websocket import Reader

LOOP = r"""
while IFS= read -r gc_tok; do
  gc_cmd=
  while IFS= read -r gc_line && [ "$gc_line" != "$gc_tok" ]; do
    gc_cmd="$gc_cmd$gc_line
"
  done
  (eval "$gc_cmd") </dev/null
  gc_rc=$?
  printf '\n%s %d\n' "$gc_tok" "$gc_rc"
  printf '\n%s\n' "$gc_tok" >&2
done
"""
#: Idle streams are closed after this: longer than gc's 30 s tick, so a session's stream
#: lives from one tick to the next, and short enough for proxies that drop idle streams.
MAX_IDLE = 45.0
#: No stream serves past this age: the API server authorizes an exec when it opens, so a
#: revoked ``pods/exec`` or an expired credential must stop a stream as it stops a new exec.
MAX_AGE = 60.0
#: A stream used at this age gets a successor opened in the background, so the next tick
#: (gc's is 30 s) finds a stream young enough to serve instead of opening one on its path.
RENEW_AFTER = MAX_AGE - 35.0
#: A write (whose loss cannot be retried) only takes a stream used this recently.
FRESH_FOR_WRITES = 10.0
MAX_REQUEST = 16 * 1024
RENEW_TIMEOUT = 10.0
#: Idle streams kept per pod container (concurrent ops open more; the rest are closed).
PER_POD = 2


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def command_text(argv: list[str], stdin: bytes | None) -> bytes | None:
    """The shell text that runs ``argv`` with ``stdin``; None: it does not fit a stream."""
    if stdin is not None and b"\0" in stdin:
        return None
    text = " ".join(quote(a) for a in argv).encode()
    if stdin is not None:
        data = stdin.replace(b"\\", b"\\\\").replace(b"'", b"'\\''")
        text = b"printf '%b' '" + data + b"' | " + text
    return text if len(text) <= MAX_REQUEST else None


class Stream:
    """One upgraded exec running `LOOP`; used by one request at a time."""

    __slots__ = ("conn", "last", "opened", "reader")

    def __init__(self, conn: Conn, reader: Reader) -> None:
        self.conn = conn
        self.reader = reader
        self.opened = self.last = time.monotonic()

    def spent(self, now: float) -> bool:
        """Too long idle or too old to serve again (see `MAX_IDLE`, `MAX_AGE`)."""
        return now - self.last > MAX_IDLE or now - self.opened > MAX_AGE

    def run(self, text: bytes, deadline: float | None) -> Result:
        """Send one command and read its answer; raises `direct.STREAM_ERRORS`."""
        token = os.urandom(12).hex().encode()
        send_stdin(self.conn, token + b"\n" + text + b"\n" + token + b"\n")
        out, err = bytearray(), bytearray()
        out_end, err_end = b"\n" + token + b" ", b"\n" + token + b"\n"
        while True:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("exec ran out of time")
                self.conn.settimeout(left)
            got = read_message(self.conn, self.reader)
            if got is None:
                raise StreamLost("the server closed the resident stream")
            channel, data = got
            if channel == STDOUT:
                out += data
            elif channel == STDERR:
                err += data
            else:  # the status: the shell itself ended
                raise StreamLost("the resident shell ended")
            if err.endswith(err_end):
                at = out.rfind(out_end)
                if at >= 0 and out.endswith(b"\n"):
                    code = out[at + len(out_end):-1]
                    if code.isdigit():
                        self.last = time.monotonic()
                        return Result(int(code), bytes(out[:at]), bytes(err[:-len(err_end)]))

    def close(self) -> None:
        self.conn.close()


class Streams:
    """The helper's idle streams, per (cluster, namespace, pod, container)."""

    def __init__(self) -> None:
        self.idle: dict[tuple[str, str, str, str], list[Stream]] = {}
        self.lock = threading.Lock()
        self.renewing: set[tuple[str, str, str, str]] = set()
        self.renewed = 0
        self.closed = False

    def run(self, settings: KubeSettings, t: Target, pod: str, container: str, text: bytes,
            timeout: float | None, *, write: bool, opener: Opener,
            environ: dict[str, str]) -> Result:
        """The command's `Result` through a stream of this pod (a new one if none is idle).

        Raises what `direct.exec_once` raises; a read that found its idle stream dead
        runs once more on a new one.
        """
        key = (t.key, settings.namespace, pod, container)
        deadline = time.monotonic() + timeout if timeout is not None else None
        stream = self.take(key, FRESH_FOR_WRITES if write else MAX_IDLE)
        while True:
            reused = stream is not None
            if stream is None:
                conn, reader, _proto = direct.open_exec(
                    settings, pod, container, ["sh", "-c", LOOP], True, timeout, target=t,
                    opener=opener, environ=environ)
                stream = Stream(conn, reader)
            metrics.count(metrics.STREAMS, event="reused" if reused else "opened")
            try:
                result = stream.run(text, deadline)
            except direct.STREAM_ERRORS as error:
                stream.close()
                metrics.count(metrics.STREAMS, event="lost")
                if not isinstance(error, TimeoutError):  # a timeout is a KubeTimeout, below
                    if reused and not write:
                        stream = None  # it died while idle: a read runs once more, on a new one
                        continue
                    if write:
                        raise KubeUnavailable(f"exec in pod {pod}: the stream was lost "
                                              "mid-exec; a write is not repeated") from None
                raise direct.stream_error(error, pod, timeout) from None
            except BaseException:
                stream.close()
                raise
            self.give(key, stream)
            if time.monotonic() - stream.opened > RENEW_AFTER:
                self.renew(key, lambda: direct.open_exec(
                    settings, pod, container, ["sh", "-c", LOOP], True, RENEW_TIMEOUT, target=t,
                    opener=opener, environ=environ))
            return result

    def renew(self, key: tuple[str, str, str, str],
              open_exec: Callable[[], tuple[Conn, Reader, str]]) -> None:
        """Open a successor for the pod's streams in the background; once it is up, the
        ones as old as `RENEW_AFTER` are closed (none is in use: only idle ones are)."""
        with self.lock:
            if key in self.renewing:
                return
            self.renewing.add(key)

        def work() -> None:
            try:
                conn, reader, _proto = open_exec()
            except Exception:  # the next op opens one itself, and reports what fails
                return
            finally:
                with self.lock:
                    self.renewing.discard(key)
            fresh = Stream(conn, reader)
            metrics.count(metrics.STREAMS, event="opened")
            now = time.monotonic()
            with self.lock:
                if self.closed:
                    fresh.close()
                    return
                streams = self.idle.setdefault(key, [])
                for old in [s for s in streams if now - s.opened > RENEW_AFTER]:
                    streams.remove(old)
                    old.close()
            self.give(key, fresh)
            with self.lock:
                self.renewed += 1

        threading.Thread(target=work, daemon=True).start()

    def take(self, key: tuple[str, str, str, str], fresh: float) -> Stream | None:
        """An idle stream of this pod used within ``fresh`` seconds, or None."""
        now = time.monotonic()
        with self.lock:
            streams = self.idle.get(key) or []
            for stream in [s for s in streams if s.spent(now) or not s.conn.quiet()]:
                streams.remove(stream)  # spent, or the server closed it (or spoke)
                stream.close()
            for stream in reversed(streams):
                if now - stream.last <= fresh:
                    streams.remove(stream)
                    return stream
        return None

    def give(self, key: tuple[str, str, str, str], stream: Stream) -> None:
        with self.lock:
            streams = self.idle.setdefault(key, [])
            if len(streams) < PER_POD and not stream.spent(time.monotonic()):
                streams.append(stream)
                return
        stream.close()

    def reap(self) -> None:
        now = time.monotonic()
        with self.lock:
            for key, streams in list(self.idle.items()):
                for stream in [s for s in streams if s.spent(now)]:
                    streams.remove(stream)
                    stream.close()
                if not streams:
                    del self.idle[key]

    def count(self) -> int:
        with self.lock:
            return sum(len(s) for s in self.idle.values())

    def close_all(self) -> None:
        with self.lock:
            self.closed = True  # a successor still being opened is closed when it is up
            for streams in self.idle.values():
                for stream in streams:
                    stream.close()
            self.idle.clear()
