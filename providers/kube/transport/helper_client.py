"""The executable's side of the helper: hand one exec to the resident per-user process.

Where the socket is, how a
connection is checked (our uid only) and the framing are `providers.kube.transport.wire`.
A helper that is not running is started detached once this op, gone direct, reached the
cluster (an op with nowhere to go starts none); one that
dies before it starts the exec costs nothing but a fallback; one that dies mid-exec is
a fallback for a read and a clear `KubeUnavailable` for a write (running a write twice
is worse than one error, as in `providers.kube.retry`).

The helper answers an exec with one byte first: ``S`` (the exec starts), ``F`` (fallback,
header follows), ``V`` (code version differs: it exits).
"""

from __future__ import annotations

import os
import socket
import sys

from protocol import privdir
from protocol.proc import Result
from providers.kube import audit, errors
from providers.kube.transport import answers, rundir, wire
from providers.kube.transport.interface import Fallback, HelperAbsent, KubectlOnly, helper_entry
from providers.kube.transport.wire import code_version, pack, recv_exact, recv_header

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from providers.kube.settings import KubeSettings
    from providers.kube.transport.interface import ExecRequest

def connect(environ: dict[str, str] | None = None, *, start: bool = True) -> socket.socket:
    """A connection to our helper; `HelperAbsent` when none answers (``start``: whether
    one should be started once the cluster answered)."""
    try:
        return wire.connect(environ)
    except wire.Absent as why:
        startable = start and (why.stale or why.reason == "not running")
        if why.reason == "not running" and startable:
            raise HelperAbsent("not running (starting one)", start=launch_quietly) from None
        raise HelperAbsent(why.reason, start=launch_quietly if startable else None) from None


def launch_quietly() -> None:
    """`launch`; its trouble is never the op's (a runtime dir not ours alone was refused
    when connecting)."""
    try:
        launch()
    except Exception:
        pass


def launch(environ: dict[str, str] | None = None) -> None:
    """Start the helper detached (its own session, stdio to its log); never waits for it."""
    env = dict(os.environ if environ is None else environ)
    # What the helper reads from its own environment must not be one caller's: the trust
    # store each caller's own (`tls.context`), the rest from each request.
    for key in ("GC_K8S_TRANSPORT", "GC_K8S_AUDIT_LOG", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        env.pop(key, None)
    where = rundir.ensure(env)  # not ours: `privdir.Untrusted`, refused, nothing started
    argv = [sys.executable, "-m", helper_entry(), "serve"]
    try:
        pid = os.fork()
    except OSError:
        return
    if pid == 0:  # the intermediate child: a new session, then the helper, then gone
        try:
            os.setsid()
            os.chdir("/")  # not the caller's directory: -m puts the cwd on sys.path
            null = os.open("/dev/null", os.O_RDONLY)
            log = privdir.open_file(os.path.join(where, "helper.log"),
                                    os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.posix_spawn(argv[0], argv, env)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    from protocol import metrics

    metrics.count(metrics.HELPER_STARTS)


ERRORS: dict[str, type[errors.KubeError]] = {
    cls.__name__: cls for cls in (errors.KubeError, errors.KubeNotFound, errors.PodGone,
                                  errors.KubeConflict, errors.KubeInvalid,
                                  errors.KubeUnavailable, errors.KubeTimeout)
}


def rebuild(header: dict[str, Any]) -> errors.KubeError:
    name = str(header.get("error"))
    message = str(header.get("message") or "helper: exec failed")
    if name == "KubeForbidden":
        return errors.KubeForbidden(message, verb=str(header.get("verb") or ""),
                                    resource=str(header.get("resource") or ""))
    cls = ERRORS.get(name, errors.KubeError)
    if issubclass(cls, errors.KubeUnavailable):
        return cls(message, not_started=bool(header.get("not_started")))
    return cls(message)


class Served:
    """How the helper served an exec: through the pod's resident stream, or with an
    answer it kept (`providers.kube.transport.answers`)."""

    __slots__ = ("cached", "resident")

    def __init__(self, header: dict[str, Any]) -> None:
        self.resident = bool(header.get("resident"))
        self.cached = bool(header.get("cached"))


def exec_via_helper(settings: KubeSettings, pod: str, container: str, argv: list[str],
                    stdin: bytes | None, timeout: float | None,
                    retry: bool) -> tuple[Result, Served]:
    """The command's `Result` through the helper, and how it served it; `HelperAbsent`: the
    next transport runs it (helper absent or gone before the exec started)."""
    try:
        cwd = os.getcwd()  # the helper resolves our relative paths against it
    except OSError:
        cwd = ""  # gone: the helper cannot tell what they mean, and sends us direct
    sock = connect()
    try:
        op = audit.operation()
        generation = answers.generation_for(op, retry, settings.namespace, pod)
        request = {"op": "exec", "version": code_version(), "env": dict(os.environ),
                   "cwd": cwd,
                   "gc_op": op, "generation": generation,
                   "settings": {"namespace": settings.namespace, "context": settings.context,
                                "kubectl": settings.kubectl,
                                "request_timeout": settings.request_timeout},
                   "pod": pod, "container": container, "argv": argv, "timeout": timeout,
                   "retry": retry, "stdin": None if stdin is None else len(stdin)}
        try:
            sock.settimeout(None if timeout is None else timeout + 30)
            sock.sendall(pack(request, stdin or b""))
            first = sock.recv(1)
        except OSError as error:
            raise HelperAbsent(f"request: {error.strerror or error}") from None
        if first == b"F":
            try:
                refusal = recv_header(sock)
            except (OSError, EOFError, ValueError) as error:
                raise HelperAbsent(f"it died before starting the exec: {error}") from None
            if refusal.get("direct"):  # the helper cannot key it: direct from this process
                raise HelperAbsent(str(refusal.get("reason")))
            raise KubectlOnly(str(refusal.get("reason")))
        if first == b"V":
            raise HelperAbsent("its code version differs (it exits; the next op starts a new one)")
        if first != b"S":
            raise HelperAbsent("it hung up before starting the exec")
        try:
            header = recv_header(sock)
            if "fallback" in header:
                raise KubectlOnly(str(header["fallback"]))
            if "error" in header:
                raise rebuild(header)
            if "helper_failed" in header:
                raise EOFError(f"it failed: {header['helper_failed']}")
            out = recv_exact(sock, int(header["out"]))
            err = recv_exact(sock, int(header["err"]))
        except (OSError, EOFError, ValueError) as error:
            if retry:
                raise HelperAbsent(f"no answer mid-exec: {error}") from None
            raise errors.KubeUnavailable(f"exec in pod {pod}: the helper died mid-exec; a "
                                         "write is not repeated") from None
        return Result(int(header["rc"]), out, err), Served(header)
    finally:
        sock.close()


def control(op: str, environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """``status`` or ``stop`` for people (`gc-session-k8s helper …`); None: not running."""
    try:
        sock = connect(environ, start=False)
    except HelperAbsent:
        return None
    except (Fallback, privdir.Untrusted) as why:
        return {"refused": str(why)}
    try:
        sock.settimeout(5)
        sock.sendall(pack({"op": op}))
        return recv_header(sock)
    except (OSError, EOFError, ValueError):
        return None  # it went away while we asked
    finally:
        sock.close()


def metrics_text(environ: dict[str, str] | None = None) -> str | None:
    """The running helper's metrics registry (Prometheus text), or None: none runs."""
    try:
        sock = connect(environ, start=False)
    except (Fallback, privdir.Untrusted):
        return None
    try:
        sock.settimeout(5)
        sock.sendall(pack({"op": "metrics"}))
        size = int(recv_header(sock).get("size") or 0)
        return recv_exact(sock, size).decode("utf-8", "replace")
    except (OSError, EOFError, ValueError):
        return None  # it went away while we asked, or is older than this question
    finally:
        sock.close()


class HelperExec:
    """The transport that hands an exec to the resident helper (`exec_via_helper`)."""

    name = "helper"
    retries_itself = True  # the helper retries under the one policy, in its process
    audits_itself = False

    def run(self, request: ExecRequest) -> Result:
        result, served = exec_via_helper(request.settings, request.pod, request.container,
                                         request.argv, request.stdin, request.timeout,
                                         request.retry)
        request.marks.update(resident=served.resident, cached=served.cached)
        return result


TRANSPORT = HelperExec()
