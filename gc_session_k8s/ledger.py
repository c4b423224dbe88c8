"""The ledger tunnel: ``GC_BEADS_API`` on the controller's loopback, reachable from a pod.

Gas City gives a session the URL of its beads API (``GC_BEADS_API``), an HTTP server on
the controller's loopback; ``bd`` in the box must reach it (``env.ledger``). A pod cannot:
its loopback is its own. With ``GC_K8S_LEDGER=1`` and a loopback URL, each session gets a
tunnel carried over one exec into its pod, nothing else:

* `Tunnel` (at `start`): the pod's ``GC_BEADS_API`` is rewritten to
  ``http://127.0.0.1:<pod port>`` (+ the URL's path); the pod port is chosen by start (a port
  free on the controller's loopback, so it is free too where pods share the node's network,
  as on the test beds).
* `POD_LISTENER` (in the pod, ``python3 -c``, stdlib only, behind the session guard): listens
  on the pod's loopback at that port and multiplexes every accepted connection over the
  exec's stdin/stdout.
* `serve` (the forwarder, one process per session on the controller, detached, started by
  start, ended by stop): holds that exec (one ``kubectl exec -i``, the ``pods/exec`` verb
  the Role already grants) and, for each connection the pod opens, connects to exactly the
  URL's host and port, which start fixed. A frame names no address: the pod cannot name any
  other target, and a frame the protocol does not allow ends the tunnel.

Frames (both ways): ``kind (1 byte) | connection id (4, big endian) | length (4) | payload``.
``R`` ready (pod, once, id 0, payload ``bd`` or ``no-bd``: is bd on its PATH), ``O`` open (pod, a new id, no payload),
``D`` data (at most `MAX_DATA` bytes), ``C`` the sender will send no more on that
connection (the receiver shuts its socket's write side; a connection both sides closed is
forgotten). Connections at once: at most `MAX_CONNECTIONS` per tunnel.

The forwarder lives as long as the pod: the exec ends when the pod goes, and an exec that
ended while the pod (with this start's id) is still there is opened again. What it keeps
between calls is its pid file in the per-user runtime dir (`rundir`), keyed by context,
namespace, pod and session; stop ends the process it names only when that process is still
the one the file was written for (pid, start time and a nonce in its argv).
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers.kube.settings import KubeSettings

ENV = "GC_BEADS_API"
SETTING = "GC_K8S_LEDGER"
HEADER = struct.Struct("!cII")
MAX_DATA = 64 * 1024
MAX_CONNECTIONS = 64
READY_TIMEOUT = 30.0
LOOPBACK = ("127.0.0.1", "::1", "localhost")

#: The pod side. argv[1]: the port. Ends when its stdin ends (the forwarder or exec gone).
POD_LISTENER = r"""
import os, socket, struct, sys, threading
H = struct.Struct('!cII')
lock = threading.Lock()
conns = {}
def send(kind, cid, data=b''):
    frame = H.pack(kind, cid, len(data)) + data
    with lock:
        while frame:
            frame = frame[os.write(1, frame):]
def closed(cid, side):
    with lock:
        entry = conns.get(cid)
        if entry is None:
            return
        entry[side] = True
        if entry[1] and entry[2]:
            del conns[cid]
            entry[0].close()
def pump(cid, s):
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            send(b'D', cid, data)
    except OSError:
        pass
    send(b'C', cid)
    closed(cid, 2)
def accept(srv):
    n = 0
    while True:
        s, _ = srv.accept()
        with lock:
            full = len(conns) >= 64
        if full:
            s.close()
            continue
        n += 1
        with lock:
            conns[n] = [s, False, False]
        send(b'O', n)
        threading.Thread(target=pump, args=(n, s), daemon=True).start()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', int(sys.argv[1])))
srv.listen(64)
import shutil
send(b'R', 0, b'bd' if shutil.which('bd') else b'no-bd')
threading.Thread(target=accept, args=(srv,), daemon=True).start()
buf = bytearray()
def exact(n):
    while len(buf) < n:
        data = os.read(0, 65536)
        if not data:
            os._exit(0)
        buf.extend(data)
    out = bytes(buf[:n])
    del buf[:n]
    return out
while True:
    kind, cid, n = H.unpack(exact(9))
    data = exact(n)
    with lock:
        entry = conns.get(cid)
    if entry is None:
        continue
    if kind == b'D':
        try:
            entry[0].sendall(data)
        except OSError:
            pass
    elif kind == b'C':
        try:
            entry[0].shutdown(socket.SHUT_WR)
        except OSError:
            pass
        closed(cid, 1)
"""


class Violation(Exception):
    """The pod sent a frame the protocol does not allow: the tunnel ends."""


def wanted(environ: Mapping[str, str]) -> bool:
    """Does the operator say the image has ``bd`` and ``python3`` (``GC_K8S_LEDGER=1``)?"""
    return (environ.get(SETTING) or "").lower() in ("1", "true", "yes", "on")


def capabilities(environ: Mapping[str, str]) -> list[str]:
    """``env.ledger`` when the operator turned the tunnel on (the handshake cannot see
    the image; README says what the setting promises)."""
    return ["env.ledger"] if wanted(environ) else []


def loopback_target(url: str) -> tuple[str, int, str] | None:
    """(host, port, rest of the URL) of an http(s) URL on the controller's loopback; None
    for any other URL (passed through untouched: no tunnel reaches anything else)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or host not in LOOPBACK or parts.username:
        return None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return ("127.0.0.1" if host == "localhost" else host), port, rest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Tunnel:
    """What one start's tunnel is: the controller target and the pod's side of the URL."""

    __slots__ = ("host", "pod_port", "pod_url", "port")

    def __init__(self, host: str, port: int, pod_port: int, pod_url: str) -> None:
        self.host, self.port, self.pod_port, self.pod_url = host, port, pod_port, pod_url

    @classmethod
    def plan(cls, environ: Mapping[str, str], url: str) -> Tunnel | None:
        """The tunnel for ``url`` when the operator wants one and the URL is loopback."""
        if not wanted(environ) or not url:
            return None
        target = loopback_target(url)
        if target is None:
            return None
        host, port, rest = target
        scheme = url.split(":", 1)[0].lower()
        pod_port = free_port()
        return cls(host, port, pod_port, f"{scheme}://127.0.0.1:{pod_port}{rest}")


# --- the forwarder's record (kept between calls) ------------------------------------------

def key(settings: KubeSettings, pod: str, session: str) -> str:
    from hashlib import sha256

    who = "\0".join((settings.context or "", settings.namespace, pod, session))
    return sha256(who.encode()).hexdigest()[:32]


def state_dir(environ: Mapping[str, str]) -> str:
    from protocol import privdir
    from providers.kube.transport import rundir

    return privdir.ensure_dir(rundir.ensure(environ), "ledger", what="ledger dir")


def _record_path(environ: Mapping[str, str], k: str) -> str:
    return f"{state_dir(environ)}/{k}.pid"


def _existing_record(environ: Mapping[str, str], k: str) -> str | None:
    """The record's path when the ledger dir exists (a stop creates no directory)."""
    from providers.kube.transport import rundir

    where = f"{rundir.path(environ)}/ledger"
    return f"{where}/{k}.pid" if os.path.isdir(where) else None


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def recorded(environ: Mapping[str, str], k: str) -> int | None:
    """The forwarder the record names, if that very process still runs: the record is a
    regular 0600 file of ours in our 0700 dir, and the process has the recorded start
    time and carries the recorded nonce in its argv. Anything else is nobody."""
    from protocol import privdir
    from protocol.starts import process_start_time

    path = _existing_record(environ, k)
    if path is None:
        return None
    try:
        privdir.check_dir(os.path.dirname(path), "ledger dir", ours_by_name=True)
        fd = privdir.open_file(path, os.O_RDONLY, what="ledger record")
    except (OSError, privdir.Untrusted):
        return None
    try:
        text = os.read(fd, 256).decode("ascii", "replace").split()
    finally:
        os.close(fd)
    if len(text) != 3 or not text[0].isdigit():
        return None
    pid, started, nonce = int(text[0]), text[1], text[2]
    if not started or process_start_time(pid) != started:
        return None
    if f"--nonce={nonce}".encode() not in _cmdline(pid).split(b"\0"):
        return None
    return pid


def _running(pid: int) -> bool:
    """Still running (not gone, not a zombie its new parent has yet to reap)?"""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def end(environ: Mapping[str, str], settings: KubeSettings, pod: str, session: str, *,
        forget_log: bool = False) -> None:
    """End the session's forwarder, if the record names one that still runs; ``forget_log``
    (stop): its log goes too (a failed start keeps it: its error names it)."""
    k = key(settings, pod, session)
    pid = recorded(environ, k)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    path = _existing_record(environ, k)
    if path is None:
        return
    for name in (path, path.removesuffix(".pid") + ".log") if forget_log else (path,):
        try:
            os.unlink(name)
        except OSError:
            pass


def open_tunnel(environ: Mapping[str, str], settings: KubeSettings, pod: str, session: str,
                start_id: str, tunnel: Tunnel, timeout: float = READY_TIMEOUT) -> None:
    """Start the session's forwarder (ending one left from before) and wait until the
    pod's listener is up; `ProviderError` with the reason when it is not."""
    import select

    from protocol.errors import ProviderError

    end(environ, settings, pod, session)
    k = key(settings, pod, session)
    log = f"{state_dir(environ)}/{k}.log"
    argv = [sys.executable, "-m", "gc_session_k8s.ledger", "serve", pod, session, start_id,
            tunnel.host, str(tunnel.port), str(tunnel.pod_port), k,
            f"--nonce={os.urandom(8).hex()}"]
    rfd, wfd = os.pipe()
    try:
        _spawn_detached(argv, dict(environ), wfd, log)
        os.close(wfd)
        wfd = -1
        ready, _, _ = select.select([rfd], [], [], timeout)
        answer = os.read(rfd, 4096).decode("utf-8", "replace").strip() if ready else ""
    finally:
        os.close(rfd)
        if wfd >= 0:
            os.close(wfd)
    if answer.startswith("ready"):
        if answer != "ready":
            from providers.tmux.launch import warn

            warn(f"ledger tunnel into pod {pod} is up, {answer.removeprefix('ready, ')}: "
                 "env.ledger's bd ready will fail (GC_K8S_LEDGER=1 promises bd in the image)")
        return
    end(environ, settings, pod, session)
    why = answer.removeprefix("error: ") or "no answer in time"
    raise ProviderError(f"ledger tunnel into pod {pod}: {why} (GC_K8S_LEDGER=1 needs "
                        f"python3 in the image; forwarder log: {log})")


def _spawn_detached(argv: list[str], env: dict[str, str], status_fd: int, log: str) -> None:
    """The forwarder in its own session, stdio /dev/null and its log, ``status_fd`` as 3."""
    from protocol import privdir

    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.chdir("/")  # -m puts the cwd on sys.path: not the caller's directory
            null = os.open("/dev/null", os.O_RDWR)
            out = privdir.open_file(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                                    what="ledger log")
            os.posix_spawn(argv[0], argv, env, file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, out, 2), (os.POSIX_SPAWN_DUP2, status_fd, 3)])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


# --- the forwarder --------------------------------------------------------------------------

class Relay:
    """The controller's end of one carrier: frames from the pod in, connections to the
    one target out. `feed` is called with what the carrier read; `write` sends to it."""

    def __init__(self, host: str, port: int, write: WriteFn) -> None:
        self.target = (host, port)
        self.write = write
        self.lock = threading.Lock()
        self.conns: dict[int, list[object]] = {}
        self.seen: set[int] = set()
        self.buf = bytearray()
        self.ready = False
        #: Whether the pod side found ``bd`` on its PATH (its ready frame says).
        self.has_bd = False

    def send(self, kind: bytes, cid: int, data: bytes = b"") -> None:
        with self.lock:
            self.write(HEADER.pack(kind, cid, len(data)) + data)

    def feed(self, data: bytes) -> list[tuple[bytes, int, bytes]]:
        """Take bytes from the pod; handle every whole frame; return them (for tests)."""
        self.buf += data
        done = []
        while len(self.buf) >= HEADER.size:
            kind, cid, n = HEADER.unpack_from(self.buf)
            if n > MAX_DATA:
                raise Violation(f"a frame of {n} bytes (at most {MAX_DATA})")
            if len(self.buf) < HEADER.size + n:
                break
            payload = bytes(self.buf[HEADER.size:HEADER.size + n])
            del self.buf[:HEADER.size + n]
            self.handle(kind, cid, payload)
            done.append((kind, cid, payload))
        return done

    def handle(self, kind: bytes, cid: int, payload: bytes) -> None:
        if kind == b"R":
            if self.ready or cid != 0:
                raise Violation("a second ready frame")
            self.ready = True
            self.has_bd = payload == b"bd"
        elif kind == b"O":
            if payload:
                raise Violation("an open frame names something: the pod chooses no target")
            if cid == 0 or cid in self.seen:
                raise Violation(f"connection id {cid} reused")
            with self.lock:
                if len(self.conns) >= MAX_CONNECTIONS:
                    self.write(HEADER.pack(b"C", cid, 0))
                    return
            self.seen.add(cid)
            self.open(cid)
        elif kind == b"D":
            sock = self._sock(cid)
            if sock is not None:
                try:
                    sock.sendall(payload)
                except OSError:
                    self.closed(cid, 1)
        elif kind == b"C":
            if payload:
                raise Violation("a close frame with a payload")
            sock = self._sock(cid)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                self.closed(cid, 1)
        else:
            raise Violation(f"unknown frame kind {kind!r}")

    def _sock(self, cid: int) -> socket.socket | None:
        with self.lock:
            entry = self.conns.get(cid)
        return entry[0] if entry else None  # type: ignore[return-value]

    def open(self, cid: int) -> None:
        try:
            sock = socket.create_connection(self.target, timeout=10)
        except OSError:
            self.send(b"C", cid)
            return
        sock.settimeout(None)
        with self.lock:
            self.conns[cid] = [sock, False, False]
        threading.Thread(target=self.pump, args=(cid, sock), daemon=True).start()

    def pump(self, cid: int, sock: socket.socket) -> None:
        try:
            while True:
                data = sock.recv(MAX_DATA)
                if not data:
                    break
                self.send(b"D", cid, data)
        except OSError:
            pass
        try:
            self.send(b"C", cid)
        except OSError:
            pass
        self.closed(cid, 2)

    def closed(self, cid: int, side: int) -> None:
        with self.lock:
            entry = self.conns.get(cid)
            if entry is None:
                return
            entry[side] = True
            if entry[1] and entry[2]:
                del self.conns[cid]
                entry[0].close()  # type: ignore[attr-defined]

    def close_all(self) -> None:
        with self.lock:
            entries = list(self.conns.values())
            self.conns.clear()
        for entry in entries:
            entry[0].close()  # type: ignore[attr-defined]


if TYPE_CHECKING:
    from collections.abc import Callable

    WriteFn = Callable[[bytes], None]


class Carrier:
    """One ``kubectl exec -i`` running `POD_LISTENER` in the session's pod."""

    def __init__(self, settings: KubeSettings, pod: str, session: str, pod_port: int) -> None:
        from gc_session_k8s.naming import AGENT_CONTAINER
        from gc_session_k8s.pod_runner import guarded
        from providers.kube.kubectl import exec_argv

        argv = exec_argv(settings, pod, AGENT_CONTAINER,
                         guarded(["python3", "-c", POD_LISTENER, str(pod_port)], session),
                         stdin=True)
        to_child, self.stdin = os.pipe()
        self.stdout, from_child = os.pipe()
        errors, err_child = os.pipe()
        self.pid = os.posix_spawnp(argv[0], argv, dict(os.environ), file_actions=[
            (os.POSIX_SPAWN_DUP2, to_child, 0), (os.POSIX_SPAWN_DUP2, from_child, 1),
            (os.POSIX_SPAWN_DUP2, err_child, 2)])
        for fd in (to_child, from_child, err_child):
            os.close(fd)
        #: The last line kubectl or the pod side wrote on stderr (all of it goes to the log).
        self.last_error = ""
        self.errors = threading.Thread(target=self._errors, args=(errors,), daemon=True)
        self.errors.start()

    def _errors(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for line in stream:
                sys.stderr.write(line.decode("utf-8", "replace"))
                sys.stderr.flush()
                if line.strip():
                    self.last_error = line.decode("utf-8", "replace").strip()[:300]

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.stdin, view):]

    def read(self) -> bytes:
        return os.read(self.stdout, 65536)

    def end(self) -> int:
        """Close stdin (the pod side then exits), wait a little, then kill; the exit code."""
        for fd in (self.stdin, self.stdout):
            try:
                os.close(fd)
            except OSError:
                pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.errors.join(1)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        self.errors.join(1)
        return rc


def pod_is_ours(settings: KubeSettings, pod: str, start_id: str) -> bool:
    """Is the pod still there with this start's id (else the forwarder has nothing to serve)?"""
    from gc_session_k8s.naming import START_ID_ANNOTATION
    from providers.kube.errors import KubeError
    from providers.kube.kubectl import kubectl

    try:
        res = kubectl(["get", "pod", pod, "--ignore-not-found", "-o",
                       "jsonpath={.metadata.annotations." + START_ID_ANNOTATION + "}"],
                      settings=settings, pod=pod, action=f"get pod {pod}")
    except KubeError:
        return True  # cannot tell: try the exec again (it fails on a missing pod)
    return res.out.decode("utf-8", "replace").strip() == start_id


def serve(argv: list[str]) -> int:
    """``serve POD SESSION START_ID HOST PORT POD_PORT KEY --nonce=N``: the forwarder."""
    from protocol import privdir
    from protocol.starts import process_start_time
    from providers.kube.settings import KubeSettings

    pod, session, start_id, host, port, pod_port, k, nonce = argv
    settings = KubeSettings.from_env(os.environ)
    status = 3
    stopping = threading.Event()

    def on_term(_sig: int, _frame: object) -> None:
        stopping.set()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    record = _record_path(os.environ, k)
    tmp = f"{record}.{os.getpid()}.tmp"
    fd = privdir.open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, what="ledger record")
    os.write(fd, f"{os.getpid()} {process_start_time(os.getpid())} "
                 f"{nonce.removeprefix('--nonce=')}\n".encode())
    os.close(fd)
    os.replace(tmp, record)

    def tell(text: str) -> None:
        nonlocal status
        if status >= 0:
            try:
                os.write(status, (text + "\n").encode())
                os.close(status)
            except OSError:
                pass
            status = -1

    pause = 0.5
    carrier: Carrier | None = None
    try:
        while not stopping.is_set():
            carrier = Carrier(settings, pod, session, int(pod_port))
            relay = Relay(host, int(port), carrier.write)
            why = ""
            try:
                while True:
                    data = carrier.read()
                    if not data:
                        break
                    relay.feed(data)
                    if relay.ready:
                        tell("ready" if relay.has_bd else "ready, but no bd on the pod's PATH")
                        pause = 0.5
            except Violation as error:
                why = str(error)
                sys.stderr.write(f"ledger: {pod}: {why}; the tunnel ends\n")
            except OSError as error:
                why = str(error)
            relay.close_all()
            rc = carrier.end()
            carrier_error = carrier.last_error
            carrier = None
            if status >= 0:  # never came up: start reports why
                tell(f"error: {why or carrier_error or f'the pod side exited {rc}'}")
                return 1
            from gc_session_k8s.pod_runner import FOREIGN_RC

            if rc == FOREIGN_RC or not pod_is_ours(settings, pod, start_id):
                return 0
            sys.stderr.write(f"ledger: {pod}: the exec ended ({rc}); opening it again\n")
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
        return 0
    finally:
        if carrier is not None:
            carrier.end()
        try:
            if recorded(os.environ, k) == os.getpid():
                os.unlink(record)
        except OSError:
            pass


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"] and len(sys.argv) == 10:
        sys.exit(serve(sys.argv[2:]))
    sys.stderr.write("usage: python -m gc_session_k8s.ledger serve POD SESSION START_ID HOST "
                     "PORT POD_PORT KEY --nonce=N\n")
    sys.exit(2)
