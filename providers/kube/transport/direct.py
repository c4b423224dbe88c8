"""One exec straight from this process: HTTPS + WebSocket v5, no kubectl.

The result and the errors are the kubectl door's: `Result(rc, out, err)` of the command
itself, `PodGone` for a missing pod or container, the same `KubeError` classes for API
failures (the server's `Status` is worded as kubectl would print it and classified by the
same code, `providers.kube.classify.exec_failure`).
"""

from __future__ import annotations

import time

from protocol.proc import Result
from providers.kube.classify import exec_failure
from providers.kube.errors import KubeError, KubeTimeout, KubeUnavailable
from providers.kube.transport import credentials, kubeconfig, tls
from providers.kube.transport.websocket import (
    HttpError,
    NoResponse,
    Reader,
    StatusFailure,
    StreamLost,
    exec_path,
    refuses_v5,
    run_stream,
    upgrade,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from providers.kube.settings import KubeSettings
    from providers.kube.transport.interface import ExecRequest
    from providers.kube.transport.target import Target
    from providers.kube.transport.tls import Conn

    Opener = Callable[[Target, float | None], Conn]

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 409: "Conflict", 422: "Invalid", 429: "TooManyRequests",
           500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "Timeout"}


def http_error_text(error: HttpError) -> str:
    """The HTTP refusal as kubectl prints it (``Error from server (Reason): message``)."""
    import json

    if error.code == 401:
        return "error: You must be logged in to the server (Unauthorized)"
    message, reason = "", ""
    try:
        status = json.loads(error.body)
        if isinstance(status, dict):
            message = str(status.get("message") or "")
            reason = str(status.get("reason") or "")
    except ValueError:
        message = error.body.decode("utf-8", "replace").strip()[:300]
    reason = reason or REASONS.get(error.code, "Unknown")
    return f"Error from server ({reason}): {message or f'HTTP {error.code}'}"


def hostport(t: Target) -> str:
    host = f"[{t.host}]" if ":" in t.host else t.host
    default = 443 if t.secure else 80
    return host if t.port == default else f"{host}:{t.port}"


def open_fresh(t: Target, timeout: float | None) -> Conn:
    return tls.connect(t, timeout)


def exec_once(settings: KubeSettings, pod: str, container: str, argv: list[str],
              stdin: bytes | None, timeout: float | None, *, target: Target | None = None,
              opener: Opener = open_fresh, environ: dict[str, str] | None = None) -> Result:
    """One attempt. Raises `Fallback` (nothing started), or a `KubeError` like kubectl's.

    ``opener`` may hand out pre-opened connections (the helper's pool); one the server
    dropped while idle is replaced by a fresh one, once.
    """
    deadline = time.monotonic() + timeout if timeout is not None else None
    conn, reader, proto = open_exec(settings, pod, container, argv, stdin is not None, timeout,
                                    target=target, opener=opener, environ=environ)
    try:
        code, out, err = run_stream(conn, reader, proto, stdin, deadline)
    except STREAM_ERRORS as error:
        raise stream_error(error, pod, timeout) from None
    finally:
        conn.close()
    return Result(code, out, err)


def open_exec(settings: KubeSettings, pod: str, container: str, argv: list[str],
              stdin: bool, timeout: float | None, *, target: Target | None = None,
              opener: Opener = open_fresh,
              environ: dict[str, str] | None = None) -> tuple[Conn, Reader, str]:
    """An upgraded exec stream (the command has started): its connection, reader and
    subprotocol. Raises `Fallback` or a `KubeError` as `exec_once` does."""
    t = target or kubeconfig.target(settings, environ)
    path = exec_path(t.path_prefix, settings.namespace, pod, container, argv, stdin)
    new_token = False  # set after a 401: the cached plugin token was revoked
    pooled = opener is not open_fresh  # cleared after a pooled connection proved dropped
    while True:
        token = credentials.bearer(t, fresh=new_token)
        try:
            conn = (opener if pooled else open_fresh)(t, timeout)
        except tls.TLSRefused as error:
            text = f"exec in pod {pod}: Unable to connect to the server: tls: {error}"
            if error.verify:  # an untrusted server stays untrusted: no retry
                raise KubeError(text) from None
            raise KubeUnavailable(text, not_started=True) from None
        except TimeoutError:
            raise KubeTimeout(f"exec in pod {pod}: timed out connecting to the server",
                              not_started=True) from None
        except OSError as error:
            raise KubeUnavailable(f"exec in pod {pod}: Unable to connect to the server: "
                                  f"{error.strerror or error}", not_started=True) from None
        reader = Reader(conn)
        try:
            return conn, reader, upgrade(conn, reader, host=hostport(t), path=path,
                                         token=token, stdin=stdin)
        except NoResponse as error:
            conn.close()
            if not pooled:
                raise stream_error(error, pod, timeout) from None
            pooled = False  # once more, on a fresh connection
        except HttpError as error:
            conn.close()
            if error.code != 401 or t.exec_spec is None or new_token:
                fallback = refuses_v5(error)
                if fallback is not None:
                    raise fallback from None
                if error.code == 403 and pod_missing(t, settings.namespace, pod, token, timeout):
                    # kubectl reads the pod before its exec: a missing one is "not found"
                    # to it, not a refused exec; so it is here (the transports agree).
                    raise exec_failure(f'Error from server (NotFound): pods "{pod}" not found',
                                       pod, 1) from None
                raise exec_failure(http_error_text(error), pod, 1) from None
            new_token = True  # once more, with a fresh token
        except STREAM_ERRORS as error:
            conn.close()
            raise stream_error(error, pod, timeout) from None
        except BaseException:
            conn.close()
            raise


STREAM_ERRORS = (StatusFailure, StreamLost, TimeoutError, OSError)


def pod_missing(t: Target, namespace: str, pod: str, token: str, timeout: float | None) -> bool:
    """Whether the server says the pod does not exist (a GET, as kubectl's before an exec);
    False when it cannot tell (refused, unreachable)."""
    from providers.kube.transport.websocket import quote

    lines = [f"GET {t.path_prefix}/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)} HTTP/1.1",
             f"Host: {hostport(t)}", "User-Agent: gc-session-k8s/direct", "Accept: application/json",
             "Connection: close"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    try:
        conn = open_fresh(t, timeout)
    except (OSError, tls.TLSRefused):
        return False
    try:
        conn.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        status = Reader(conn).head().decode("latin-1").split("\r\n", 1)[0].split(" ", 2)
        return len(status) > 1 and status[1] == "404"
    except (OSError, StreamLost):
        return False
    finally:
        conn.close()


def stream_error(error: BaseException, pod: str, timeout: float | None) -> KubeError:
    """A stream's failure (one of `STREAM_ERRORS`) as kubectl's would be classified."""
    if isinstance(error, StatusFailure):
        return exec_failure(f"error: {error}", pod, 1)
    if isinstance(error, StreamLost):
        return KubeUnavailable(f"exec in pod {pod}: unexpected EOF: {error}")
    if isinstance(error, TimeoutError):
        return KubeTimeout(f"exec in pod {pod}: timed out after {timeout:g}s")
    return KubeUnavailable(f"exec in pod {pod}: connection reset: {error}")


class DirectExec:
    """The transport of `exec_once`: one HTTPS + WebSocket exec from this process."""

    name = "direct"
    retries_itself = False
    audits_itself = False

    def run(self, request: ExecRequest) -> Result:
        return exec_once(request.settings, request.pod, request.container, request.argv,
                         request.stdin, request.timeout)


TRANSPORT = DirectExec()
