"""The resident per-user helper: ``python -m providers.kube.transport.helper serve``, or the
entry module of the executable that starts it (`providers.kube.transport.interface.start_helper_as`),
which calls `main` with its answerers.

One per uid (an flock on ``helper.lock`` in the 0700 runtime dir), listening on a 0600
unix socket there, never on TCP. Every connection's peer uid is checked
(``SO_PEERCRED``): another user's process is hung up on before it is read. Whole reads
(`answer_read`) also come through its door, a 0600 FIFO beside the socket
(`providers.kube.transport.wire.ask_door`: the client then needs no `socket`); a door
request is served only from a file and a reply FIFO of our uid, closed to others. It keeps in
memory what a one-shot executable pays for on every op: the resolved kubeconfig, the SSL
context, a small pool of pre-opened TLS connections per cluster (an exec upgrade consumes
one; a thread refills it), and exec-plugin tokens until they expire (a 401 runs the
plugin once more), and for the ops gc sends every tick one resident exec stream per pod
(`providers.kube.transport.resident`). All it keeps is keyed by the whole identity of a
request (`providers.kube.transport.kubeconfig`: the kubeconfig files and their content,
the files they name, context, namespace, and for an exec plugin the caller's environment
and working directory); a caller's relative paths mean the caller's working directory,
which each request carries, never the helper's (which is ``/``). A request whose identity
it cannot establish (no working directory) goes direct. It runs each exec with the direct
transport's code and the one retry policy, and exits when idle for ``GC_K8S_HELPER_IDLE``
seconds (default 300), when asked (``stop``), or after serving a client whose code version
differs from its own.
"""

from __future__ import annotations

import fcntl
import os
import select
import socket
import stat
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from protocol import metrics, privdir
from protocol.dispatch import observe
from protocol.errors import ProviderError
from protocol.proc import Result
from protocol.settings import loopback_addr
from providers.kube import audit
from providers.kube.errors import KubeError, KubeForbidden, KubeUnavailable
from providers.kube.retry import with_retries
from providers.kube.settings import METRICS_ADDR, KubeSettings
from providers.kube.transport import answers, credentials, direct, kubeconfig, resident, rundir, tls
from providers.kube.transport.interface import Fallback, fallback_reason
from providers.kube.transport.target import Target
from providers.kube.transport.wire import (
    TOKEN_HEX,
    answer_call,
    answered,
    code_version,
    door_name,
    pack,
    recv_exact,
    recv_header,
    socket_name,
    unpack,
)

POOL_SIZE = 2
#: An idle connection older than this is closed, not used: servers and load balancers
#: drop idle connections, and a fresh one costs less than a failed first try.
MAX_IDLE = 20.0
DEFAULT_IDLE_EXIT = 300.0
#: The ops gc sends for every session every tick: they run through a resident stream of
#: their pod (`providers.kube.transport.resident`). Others (start, stop, copies, store
#: ops) get an exec of their own: what they start in the background must not share one.
STREAM_OPS = frozenset({"is-running", "process-alive", "get-meta", "get-last-activity", "peek",
                        "is-attached", "nudge"})


class Answerer(Protocol):
    """Answers a client's whole read op (`Helper.answer_read`): its stdout, given its argv,
    environment, stdin and this helper's way to exec; raises for anything else."""

    def __call__(self, argv: list[str], environ: dict[str, str], data: bytes,
                 execute: Callable[..., Result]) -> bytes: ...


class Pool:
    """Pre-opened connections per cluster (keyed by the target's cache key)."""

    def __init__(self, size: int = POOL_SIZE) -> None:
        self.size = size
        self.idle: dict[str, list[tls.Conn]] = {}
        self.pending: dict[str, int] = {}
        self.lock = threading.Lock()

    def take(self, t: Target, timeout: float | None) -> tls.Conn:
        while True:
            with self.lock:
                conns = self.idle.get(t.key) or []
                conn = conns.pop() if conns else None
            if conn is None:
                break
            if usable(conn):
                conn.settimeout(timeout)
                return conn
            conn.close()
        return tls.connect(t, timeout)

    def refill(self, t: Target) -> None:
        with self.lock:
            missing = self.size - len(self.idle.get(t.key) or []) - self.pending.get(t.key, 0)
            if missing <= 0:
                return
            self.pending[t.key] = self.pending.get(t.key, 0) + missing
        for _ in range(missing):
            threading.Thread(target=self._open, args=(t,), daemon=True).start()

    def _open(self, t: Target) -> None:
        conn = None
        try:
            conn = tls.connect(t, 10.0)
        except Exception:  # an unreachable server fails the op itself, with its error
            pass
        with self.lock:
            self.pending[t.key] -= 1
            if conn is not None:
                self.idle.setdefault(t.key, []).append(conn)

    def reap(self) -> None:
        now = time.monotonic()
        with self.lock:
            for conns in self.idle.values():
                for conn in [c for c in conns if now - c.opened > MAX_IDLE]:
                    conns.remove(conn)
                    conn.close()

    def count(self) -> int:
        with self.lock:
            return sum(len(c) for c in self.idle.values())


def usable(conn: tls.Conn) -> bool:
    """Young enough, and the server has neither closed it nor sent anything on it."""
    return time.monotonic() - conn.opened <= MAX_IDLE and conn.quiet()


class DoorReply:
    """The reply FIFO of a door request, written as a connection is (``sendall``)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        os.close(self.fd)


#: The most a door request may hold (argv, environment, stdin: a read's are small).
DOOR_REQUEST_MAX = 16 << 20


#: The environment variable that marks what an exec of a client's started in the pod, so
#: that it can be found and stopped when that client goes away mid-exec.
EXEC_MARK = "GC_K8S_EXEC_ID"
#: Stops every process in the pod whose environment carries the mark ($1): TERM, then KILL
#: for what is left a second later. Any image with sh, grep and kill (busybox too) runs it.
STOP_MARKED = ('m="' + EXEC_MARK + '=$1"; for s in TERM KILL; do '
               'for p in /proc/[0-9]*; do grep -qsF -- "$m" "$p/environ" && '
               'kill -s "$s" "${p#/proc/}" 2>/dev/null; done; [ "$s" = KILL ] || sleep 1; done; :')


class Cancelled(Exception):
    """The client went away mid-exec: its exec was stopped, and nothing is answered."""


class Cancel:
    """Watches a client's connection while its exec runs: the client sends nothing after
    its request, so the connection turning readable means it hung up (it was killed, or
    cancelled). Then the exec's connection is shut (the stream ends) and the helper stops
    what the exec started in the pod (`EXEC_MARK`): the helper must not go on running a
    command nobody waits for."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.mark = os.urandom(12).hex()
        self.gone = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.streams: list[tls.Conn] = []
        #: Stops what the exec started in the pod (set once the exec is known).
        self.stop: Callable[[], None] | None = None
        threading.Thread(target=self.watch, daemon=True).start()

    def watch(self) -> None:
        poller = select.poll()
        poller.register(self.conn.fileno(), select.POLLIN | select.POLLHUP
                        | getattr(select, "POLLRDHUP", 0))  # Linux only
        while not self.done.is_set():
            if poller.poll(200):
                break
        with self.lock:
            if self.done.is_set():
                return
            self.gone.set()
            for stream in self.streams:
                stream.abort()
            stop = self.stop
        if stop is not None:  # at once: a stream the watch does not hold ends with it
            stop()

    def opener(self, take: Callable[[Target, float | None], tls.Conn]
               ) -> Callable[[Target, float | None], tls.Conn]:
        """``take``, with each connection it opens shut when the client goes."""
        def open_watched(t: Target, timeout: float | None) -> tls.Conn:
            conn = take(t, timeout)
            with self.lock:
                if self.gone.is_set():
                    conn.close()
                    raise Cancelled("its client went away")
                self.streams.append(conn)
            return conn
        return open_watched

    def finish(self) -> bool:
        """Stop watching (the answer goes out now); whether the client had gone."""
        with self.lock:
            self.done.set()
            return self.gone.is_set()


class Ask:
    """One exec a client wants run: where, what, and what may answer it."""

    __slots__ = ("argv", "cancel", "container", "env", "gc_op", "generation", "pod", "retry",
                 "settings", "stdin", "target", "timeout")

    def __init__(self, settings: KubeSettings, target: Target, env: dict[str, str],
                 gc_op: str, pod: str, container: str, argv: list[str], stdin: bytes | None,
                 timeout: float | None, retry: bool, generation: object,
                 cancel: Cancel | None = None) -> None:
        self.settings = settings
        self.target = target
        #: The client's environment: its kubeconfig, proxies and settings, as it sees them.
        self.env = env
        self.gc_op = gc_op
        self.pod = pod
        self.container = container
        self.argv = argv
        self.stdin = stdin
        self.timeout = timeout
        #: A read (safe to run again), not a write.
        self.retry = retry
        #: The pod's generation as the client saw it (`answers`); None: keep nothing.
        self.generation = generation
        #: The client's hang-up watch (an exec of its own only): what stops it mid-exec.
        self.cancel = cancel


class Helper:
    def __init__(self, where: str, idle_exit: float,
                 answerers: Mapping[str, Answerer] | None = None) -> None:
        self.where = where
        #: What the executable that started us answers whole, by the name its client sends.
        self.answerers = dict(answerers or {})
        self.idle_exit = idle_exit
        self.version = code_version()
        self.pool = Pool()
        self.streams = resident.Streams()
        self.answers = answers.Answers()
        self.started = time.time()
        self.last = time.monotonic()
        self.active = 0
        self.served = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    # -- one client connection ---------------------------------------------------------
    def handle(self, conn: socket.socket) -> None:
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", creds)
            if uid != os.getuid():
                return  # another user: hung up on, nothing read
            conn.settimeout(30)
            request = recv_header(conn)
            op = request.get("op")
            if op == "status":
                conn.sendall(pack(self.status()))
            elif op == "metrics":  # the registry, as `GC_K8S_METRICS_ADDR` serves it
                text = metrics.REGISTRY.render().encode()
                conn.sendall(pack({"size": len(text)}, text))
            elif op == "stop":
                conn.sendall(pack({"stopping": True, "pid": os.getpid()}))
                self.stopping.set()
            elif op in ("answer", "exec"):
                size = request.get("stdin")
                if op == "answer":  # argv, environment and stdin: `wire.answer_request`
                    size = (int(request["argv"]) + int(request["environ"]) + int(request["cwd"])
                            + int(size or 0))
                stdin = recv_exact(conn, int(size)) if size is not None else None
                conn.settimeout(None)
                if op == "answer":
                    self.counted(lambda: self.answer_read(conn, request, stdin or b""))
                else:
                    self.counted(lambda: self.exec(conn, request, stdin))
        except (OSError, EOFError, ValueError, KeyError) as error:
            log(f"a client connection ended early: {error!r}")  # its client goes direct
        finally:
            conn.close()

    def counted(self, serve: Callable[[], None]) -> None:
        with self.lock:
            self.active += 1  # only ops count: asking for the status is not activity
        try:
            serve()
        finally:
            with self.lock:
                self.active -= 1
                self.served += 1
                self.last = time.monotonic()

    # -- one door request (`wire.ask_door`) ----------------------------------------------
    def handle_door(self, token: bytes, unserved: str = "") -> None:
        """Serve the request ``token`` names: its file read, both unlinked, ``S``, then the
        reply; ``unserved``: say only that (the helper is exiting). Files that are not of
        the expected kind, ours and closed to others are left alone unanswered."""
        if len(token) != TOKEN_HEX or token.strip(b"0123456789abcdef"):
            return
        name = token.decode()
        query = os.path.join(self.where, f"q-{name}")
        flags = os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(query, os.O_RDONLY | flags)
        except OSError:
            return  # its client gave up and removed it
        try:
            st = os.fstat(fd)
            if not ours_alone(st, stat.S_ISREG) or st.st_size > DOOR_REQUEST_MAX:
                log(f"a door request not ours alone was refused: {query}")
                return
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            data = b"".join(chunks)
        except OSError:
            return
        finally:
            os.close(fd)
            unlink_quietly(query)
        reply_path = os.path.join(self.where, f"r-{name}")
        try:  # no reader (ENXIO): its client is gone
            wfd = os.open(reply_path, os.O_WRONLY | os.O_NONBLOCK | flags)
        except OSError:
            return
        reply = DoorReply(wfd)
        try:
            if not ours_alone(os.fstat(wfd), stat.S_ISFIFO):
                log(f"a door reply not ours alone was refused: {reply_path}")
                return
            unlink_quietly(reply_path)
            os.set_blocking(wfd, True)
            reply.sendall(b"S")
            request, blobs = unpack(data)
            if unserved or request.get("op") != "answer":
                reply.sendall(pack({"unserved": unserved or "the door takes answer requests"}))
                return
            self.counted(lambda: self.answer_read(reply, request, blobs))
        except (OSError, ValueError, KeyError) as error:
            log(f"a door request ended early: {error!r}")  # its client runs the op itself
        finally:
            reply.close()

    def exec(self, conn: socket.socket, request: dict[str, Any], stdin: bytes | None) -> None:
        if request.get("version") != self.version:
            conn.sendall(b"V")
            self.stopping.set()  # a newer (or older) client: make way for its helper
            return
        cwd = str(request.get("cwd") or "")
        s = request.get("settings") or {}
        try:  # the caller's relative paths mean its working directory, never ours
            env = kubeconfig.caller_env(
                {str(k): str(v) for k, v in (request.get("env") or {}).items()}, cwd)
            kubectl = kubeconfig.caller_kubectl(str(s.get("kubectl") or "kubectl"), cwd)
        except Fallback as why:  # not provably one identity: the client goes direct
            conn.sendall(b"F" + pack({"reason": why.reason, "direct": True}))
            return
        settings = KubeSettings(namespace=str(s.get("namespace") or "gc"),
                                context=str(s.get("context") or ""), kubectl=kubectl,
                                request_timeout=float(s.get("request_timeout") or 15.0))
        try:
            target = kubeconfig.target(settings, env, cwd)
        except Fallback as why:
            conn.sendall(b"F" + pack({"reason": why.reason}))
            return
        conn.sendall(b"S")
        marks: dict[str, Any] = {}
        parsed: list[Ask] = []
        cancel = Cancel(conn)

        def attempt() -> Result:  # the request is read in here: any flaw is answered
            if cancel.gone.is_set():
                raise Cancelled("its client went away")
            if not parsed:
                parsed.append(Ask(settings, target, env, str(request.get("gc_op") or ""),
                                  str(request["pod"]), str(request.get("container") or ""),
                                  [str(a) for a in request["argv"]], stdin,
                                  None if request.get("timeout") is None
                                  else float(request["timeout"]),
                                  bool(request.get("retry")), request.get("generation"),
                                  cancel))
                ask = parsed[0]
                cancel.stop = lambda: self.stop_marked(ask, cancel.mark)
            return self.run(parsed[0], marks)

        try:
            self.answer(conn, attempt, bool(request.get("retry")), marks, cancel)
        finally:
            if cancel.finish() and parsed:  # once more: a command started after the first
                self.stop_marked(parsed[0], cancel.mark)
            if not request.get("retry"):  # a write: what we kept of the pod is old
                self.answers.forget((target.key, settings.namespace, str(request.get("pod"))))
            # Refilled only once the answer is out: a TLS handshake during the exec would
            # compete with it for the CPU; now it overlaps the client's exit.
            self.pool.refill(target)

    def answer_read(self, conn: socket.socket | DoorReply, request: dict[str, Any], blobs: bytes) -> None:
        """A whole read op for `gc_session_k8s.hot`: its stdout, or ``unserved`` (the client
        then runs the op itself). The answerer runs the op's own code with this helper's
        execs; each exec gets the audit line the client would have written."""
        if request.get("version") != self.version:
            unserved(conn, "its code version differs (it exits)", "helper_version")
            self.stopping.set()
            return
        name = str(request.get("answerer"))
        answerer = self.answerers.get(name)
        if answerer is None:
            # Started by another executable: make way for one its client's starts.
            unserved(conn, f"no answerer {name!r} here (it exits)", "no_answerer")
            self.stopping.set()
            return
        began = time.monotonic()
        argv, env, cwd, data = answer_call(request, blobs)
        try:  # the caller's relative paths (kubeconfig, audit log, metrics, kubectl) mean its cwd
            env = kubeconfig.caller_env(env, cwd)
        except Fallback as why:
            unserved(conn, why.reason, "caller_cwd_unknown")
            return
        op = argv[0]
        correlation = os.urandom(6).hex()
        used: dict[str, Target] = {}
        execs = [0]

        def execute(pod: str, argv: Sequence[str], *, container: str, settings: KubeSettings,
                    stdin: bytes | None, timeout: float | None, retry: bool) -> Result:
            target = kubeconfig.target(settings, env, cwd)
            used[target.key] = target
            generation = answers.generation_for(op, retry, settings.namespace, pod, env)
            ask = Ask(settings, target, env, op, pod, container, list(argv), stdin, timeout, retry,
                      generation)
            marks: dict[str, Any] = {}
            started, rc = time.monotonic(), -1
            execs[0] += 1
            try:
                result = with_retries(lambda: self.run(ask, marks), idempotent=retry)
                rc = result.rc
                return result
            finally:
                audit.record(audit.exec_argv(pod, container, list(argv)), pod=pod, started=started,
                             rc=rc, transport="helper", resident=bool(marks.get("resident")),
                             cached=bool(marks.get("cached")), environ=env, op=op,
                             correlation=correlation)

        try:
            out = answerer(argv, env, data, execute)
        except Fallback as why:
            unserved(conn, str(why) or type(why).__name__, fallback_reason(why))
        except KubeError as why:
            unserved(conn, str(why) or type(why).__name__, "cluster_error")
        except (ProviderError, LookupError) as why:
            unserved(conn, str(why) or type(why).__name__, "not_a_plain_answer")
        except Exception:  # a bug of ours: logged whole; the client runs the op itself
            log("an answer failed inside the helper:\n" + traceback.format_exc())
            unserved(conn, "failed inside the helper", "helper_failed")
        else:
            conn.sendall(answered(out))
            # Once the answer is out: the client's op line and counts, as its own would be.
            counted = metrics.Registry()
            counted.count(metrics.CALLS, execs[0], exe=name, transport="helper")
            observe(name, op, argv[1:2], 0, time.monotonic() - began, "", "GC_K8S_AUDIT_LOG",
                    lambda: correlation, env, counted=counted,
                    notes={"transport": "helper", "answered": "whole"})
        finally:
            for target in used.values():
                self.pool.refill(target)

    def run(self, ask: Ask, marks: dict[str, Any]) -> Result:
        """One attempt at ``ask``: a kept answer, else the pod's resident stream, else an
        exec of its own; raises what `direct.exec_once` raises."""
        ttl = answers.ttl_seconds(ask.env)
        generation = ask.generation if isinstance(ask.generation, int) else None
        keep = ask.gc_op in answers.CACHED_OPS and ask.retry and generation is not None and ttl > 0
        pod_key = (ask.target.key, ask.settings.namespace, ask.pod)
        question = (ask.container, tuple(ask.argv), b"" if ask.stdin is None else b"<" + ask.stdin)
        if keep:
            kept = self.answers.get(pod_key, question, generation or 0, ttl)
            if kept is not None:
                marks["cached"] = True
                metrics.count(metrics.KEPT_HITS)
                return kept
        sent = time.monotonic()
        result = self.run_in_pod(ask, marks)
        if keep:
            self.answers.put(pod_key, question, generation or 0, result, sent)
        return result

    def run_in_pod(self, ask: Ask, marks: dict[str, Any]) -> Result:
        text = None
        if ask.gc_op in STREAM_OPS and ask.env.get("GC_K8S_HELPER_STREAMS") != "0":
            text = resident.command_text(ask.argv, ask.stdin)
        if text is not None:
            try:
                result = self.streams.run(ask.settings, ask.target, ask.pod, ask.container, text,
                                          ask.timeout, write=not ask.retry,
                                          opener=self.pool.take, environ=ask.env)
                marks["resident"] = True
                return result
            except Fallback as why:  # a server without v5 serves a read as a plain exec (v4)
                metrics.count(metrics.FALLBACKS, transport="resident", reason=fallback_reason(why))
        argv: list[str] = ask.argv
        opener: Callable[[Target, float | None], tls.Conn] = self.pool.take
        if ask.cancel is not None:  # what it starts carries the mark; its stream is watched
            argv = ["env", f"{EXEC_MARK}={ask.cancel.mark}", *argv]
            opener = ask.cancel.opener(self.pool.take)
        return direct.exec_once(ask.settings, ask.pod, ask.container, argv, ask.stdin,
                                ask.timeout, target=ask.target, opener=opener,
                                environ=ask.env)

    def stop_marked(self, ask: Ask, mark: str) -> None:
        """Stop what a cancelled exec started in its pod (its client went away mid-exec)."""
        try:
            direct.exec_once(ask.settings, ask.pod, ask.container,
                             ["sh", "-c", STOP_MARKED, "sh", mark], None, 30.0,
                             target=ask.target, opener=self.pool.take, environ=ask.env)
        except Exception as error:  # the pod may be gone with it
            log(f"stopping a cancelled exec in pod {ask.pod}: {error!r}")

    def answer(self, conn: socket.socket, attempt: Callable[[], Result], idempotent: bool,
               marks: dict[str, Any] | None = None, cancel: Cancel | None = None) -> None:
        """Run ``attempt`` under the one retry policy and send its outcome; ``marks``
        (filled by the attempt) go into a success's header. ``cancel``: its client's watch,
        ended before the outcome goes out (the client hanging up then is not a cancel)."""
        try:
            try:
                result = with_retries(attempt, idempotent=idempotent)
            finally:
                if cancel is not None and cancel.finish():
                    raise Cancelled("its client went away mid-exec")
        except Cancelled:
            log("a client went away mid-exec: its exec was stopped")
            return
        except Fallback as why:
            conn.sendall(pack({"fallback": why.reason}))
        except KubeError as error:
            header: dict[str, Any] = {"error": type(error).__name__, "message": str(error)}
            if isinstance(error, KubeUnavailable):
                header["not_started"] = error.not_started
            if isinstance(error, KubeForbidden):
                header.update(verb=error.verb, resource=error.resource)
            conn.sendall(pack(header))
        except Exception as error:  # a bug of ours: logged whole; the client decides
            log("an exec failed inside the helper:\n" + traceback.format_exc())
            conn.sendall(pack({"helper_failed": repr(error)}))
        else:
            conn.sendall(pack({"rc": result.rc, "out": len(result.out), "err": len(result.err),
                               **(marks or {})}, result.out, result.err))

    def status(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "version": self.version,
                "uptime_s": round(time.time() - self.started, 1), "served": self.served,
                "active": self.active, "pooled_connections": self.pool.count(),
                "resident_streams": self.streams.count(),
                "kept_answers": self.answers.count(), "kept_answer_hits": self.answers.hits,
                "plugin_runs": credentials.runs, "idle_exit_s": self.idle_exit,
                "socket": os.path.join(self.where, socket_name())}

    # -- the accept loop ---------------------------------------------------------------
    def serve(self, listener: socket.socket, door: int = -1) -> None:
        listener.settimeout(0)
        checked = time.monotonic()
        pending = b""
        while not self.stopping.is_set():
            ready, _, _ = select.select([listener] + ([door] if door >= 0 else []), [], [], 1.0)
            if listener in ready:
                try:
                    conn, _ = listener.accept()
                except (BlockingIOError, InterruptedError):
                    pass
                else:
                    conn.settimeout(None)
                    threading.Thread(target=self.handle, args=(conn,), daemon=True).start()
            if door in ready:
                tokens, pending = read_tokens(door, pending)
                for token in tokens:
                    threading.Thread(target=self.handle_door, args=(token,), daemon=True).start()
            now = time.monotonic()
            if now - checked >= 1.0:  # housekeeping, at most once a second
                checked = now
                self.pool.reap()
                self.streams.reap()
                self.answers.reap(answers.MAX_TTL_MS / 1000)
                with self.lock:
                    if self.active == 0 and now - self.last > self.idle_exit:
                        return

    def drain(self, limit: float = 60.0) -> None:
        """Let ops in flight finish (the socket is already gone: no new ones arrive)."""
        deadline = time.monotonic() + limit
        while self.active and time.monotonic() < deadline:
            time.sleep(0.05)


def unserved(conn: socket.socket | DoorReply, why: str, reason: str) -> None:
    """Hand a whole read back to its client (which runs it itself), counted by ``reason``."""
    metrics.count(metrics.FALLBACKS, transport="helper_answer", reason=reason)
    conn.sendall(pack({"unserved": why}))


def ours_alone(st: os.stat_result, kind: Callable[[int], bool]) -> bool:
    return kind(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def read_tokens(door: int, pending: bytes) -> tuple[list[bytes], bytes]:
    """The whole lines the door holds now (it is non-blocking), and what follows them."""
    try:
        pending += os.read(door, 1 << 16)
    except (BlockingIOError, InterruptedError):
        pass
    *lines, rest = pending.split(b"\n")
    return lines, rest


def open_door(path: str) -> int:
    """Make the door (0600 from the first instant) and hold it open for reading and writing:
    it never reads EOF between clients, and clients can open it only while we run."""
    unlink_quietly(path)
    old = os.umask(0o177)
    try:
        os.mkfifo(path, 0o600)
    finally:
        os.umask(old)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not ours_alone(os.fstat(fd), stat.S_ISFIFO):
        os.close(fd)
        raise OSError(f"the door {path} is not the FIFO we made")
    return fd


def close_door(helper: Helper, path: str, fd: int) -> None:
    """Unlink the door (no client opens it after this), then tell each request already in
    it that it is not served: its client runs the op itself at once."""
    try:
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            os.unlink(path)
    except OSError:
        pass
    tokens, _ = read_tokens(fd, b"")
    os.close(fd)  # a client that opened it before the unlink now fails its write (EPIPE)
    for token in tokens:
        helper.handle_door(token, unserved="the helper is exiting")


def log(text: str) -> None:
    """One line (or a traceback) to stderr, which is ``helper.log`` in the runtime dir."""
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {text}", file=sys.stderr,
          flush=True)


def raise_open_files() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, 65536) if hard == resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (OSError, ValueError):
        pass  # the default limit still serves a few hundred pods


def idle_exit_seconds(env: dict[str, str]) -> float:
    try:
        value = float(env.get("GC_K8S_HELPER_IDLE") or DEFAULT_IDLE_EXIT)
    except ValueError:
        return DEFAULT_IDLE_EXIT
    return value if value > 0 else DEFAULT_IDLE_EXIT


def serve(answerers: Mapping[str, Answerer] | None = None) -> int:
    os.chdir("/")  # nothing relative may mean the first caller's directory
    try:
        where = rundir.ensure()
        lock = privdir.open_file(os.path.join(where, socket_name().replace(".sock", ".lock")),
                                os.O_RDWR | os.O_CREAT)
    except (Fallback, ProviderError, OSError) as why:
        print(f"gc-k8s helper: {why}", file=sys.stderr)
        return 1
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another helper of ours runs (or is starting): it serves
    raise_open_files()  # an idle stream per pod: a controller of hundreds holds hundreds
    metrics.keep_long(metrics.HELPER_EXE)  # what we count lives as long as we do
    try:
        exporter = metrics_listener(os.environ.get(METRICS_ADDR.name) or "")
    except ValueError as why:
        print(f"gc-k8s helper: {why}", file=sys.stderr, flush=True)
        os.close(lock)
        return 1
    path = os.path.join(where, socket_name())
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)  # 0600 from the first instant: no window for another user
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    inode = os.stat(path).st_ino
    listener.listen(128)
    door_path = os.path.join(where, door_name())
    door = open_door(door_path)
    helper = Helper(where, idle_exit_seconds(dict(os.environ)), answerers)
    print(f"gc-k8s helper {os.getpid()} serving {path} (version {helper.version})",
          file=sys.stderr, flush=True)
    try:
        helper.serve(listener, door)
    finally:
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass
        close_door(helper, door_path, door)
        listener.close()  # connections still queued are reset: their clients go direct
        helper.drain()
        helper.streams.close_all()  # each pod's resident shell reads EOF and exits
        if exporter is not None:
            exporter.close()
        os.close(lock)
    return 0


class Exporter:
    """``GET /metrics`` on a loopback address: this helper's registry (no other path)."""

    def __init__(self, host: str, port: int) -> None:
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.partition("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = metrics.REGISTRY.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

        self.server = Server((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def metrics_listener(raw: str) -> Exporter | None:
    """The ``/metrics`` listener ``raw`` asks for (None: not asked, or its port is taken,
    said in the log); ValueError for an address not on loopback."""
    if not raw:
        return None
    host, port = loopback_addr(raw, METRICS_ADDR.name)
    try:
        exporter = Exporter(host, port)
    except OSError as error:
        log(f"{METRICS_ADDR.name}={raw}: not serving metrics: {error.strerror or error}")
        return None
    log(f"serving metrics at http://{raw}/metrics")
    return exporter


def main(args: list[str], answerers: Mapping[str, Answerer] | None = None) -> int:
    """``serve``, the one command; ``answerers``: what the starting executable answers."""
    if args != ["serve"]:
        print("usage: python -m <helper entry module> serve", file=sys.stderr)
        return 2
    return serve(answerers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
