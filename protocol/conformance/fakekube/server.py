"""The offline Kubernetes API server: HTTP routing, CRUD, watch, exec, faults."""

from __future__ import annotations

import base64
import copy
import email.parser
import io
import os
import queue
import re
import select
import shutil
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import orjson

from protocol.conformance.fakekube import auth, discovery
from protocol.conformance.fakekube.backends.base import Backend
from protocol.conformance.fakekube.errors import (
    ApiError,
    already_exists,
    conflict,
    details_of,
    not_found,
    precondition_failed,
)
from protocol.conformance.fakekube.exec_stream import V5, choose_subprotocol, run_exec
from protocol.conformance.fakekube.faults import Fault, Faults
from protocol.conformance.fakekube.kubelet import Kubelet
from protocol.conformance.fakekube.limits import HeadTooLarge, check_body_size, read_head, refuse_head
from protocol.conformance.fakekube.patch import (
    PATCH_REJECTED,
    PATCH_TYPES,
    check_patch_syntax,
    decode_patch,
    json_patch,
    merge_patch,
)
from protocol.conformance.fakekube.pods import apply_defaults
from protocol.conformance.fakekube.protobuf import access_review, decode_object
from protocol.conformance.fakekube.selectors import SelectorError, parse_field_selector, parse_label_selector
from protocol.conformance.fakekube.store import KINDS, Event, Obj, Store, now_iso
from protocol.conformance.fakekube.tls import TLSTerminator, ca_data, make_certs
from protocol.conformance.fakekube.validation import (
    require_kind,
    validate_data,
    validate_metadata,
    validate_pod,
)
from protocol.conformance.fakekube.websocket import WebSocket, accept_key

NAMESPACED = ("pods", "secrets", "configmaps")
_SPEC_MUTABLE_MSG = (
    "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)"
)

_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), name)
    for p, name in [
        (r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/exec", "exec"),
        (r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/log", "log"),
        (r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/status", "status"),
        (r"/api/v1/namespaces/(?P<ns>[^/]+)/(?P<res>pods|secrets|configmaps)/(?P<name>[^/]+)", "item"),
        (r"/api/v1/namespaces/(?P<ns>[^/]+)/(?P<res>pods|secrets|configmaps)", "collection"),
        (r"/api/v1/(?P<res>pods|secrets|configmaps)", "all-namespaces"),
        (r"/api/v1/(?P<res>namespaces)/(?P<name>[^/]+)", "item"),
        (r"/api/v1/(?P<res>namespaces)", "collection"),
        (r"/apis/authorization\.k8s\.io/v1/selfsubjectaccessreviews", "ssar"),
    ]
]


def check_preconditions(resource: str, obj: Obj, opts: Any) -> None:
    """A DELETE's ``preconditions`` (uid, resourceVersion): 409 when they name another object,
    as the real server answers a delete meant for a pod since replaced under the same name."""
    wanted = opts.get("preconditions") if isinstance(opts, dict) else None
    if not isinstance(wanted, dict):
        return
    meta = obj.get("metadata") or {}
    for field, key in (("UID", "uid"), ("ResourceVersion", "resourceVersion")):
        want = wanted.get(key)
        if want and str(want) != str(meta.get(key, "")):
            raise precondition_failed(resource, obj["metadata"]["name"], field, str(want), str(meta.get(key, "")))


def _q1(query: dict[str, list[str]], key: str, default: str = "") -> str:
    v = query.get(key)
    return v[0] if v else default


def _truthy(query: dict[str, list[str]], key: str) -> bool:
    return _q1(query, key).lower() in ("1", "true", "yes")


def _age(ts: str) -> str:
    try:
        then = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    s = int((datetime.now(UTC) - then).total_seconds())
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    return f"{s // 3600}h"


def _pod_row(pod: Obj) -> list[Any]:
    cs = pod.get("status", {}).get("containerStatuses") or []
    ready = sum(1 for c in cs if c.get("ready"))
    status = pod.get("status", {}).get("reason") or pod.get("status", {}).get("phase", "")
    for c in cs:
        st = c.get("state", {})
        if "waiting" in st and st["waiting"].get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            status = st["waiting"]["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        status = "Terminating"
    restarts = sum(int(c.get("restartCount", 0)) for c in cs)
    return [pod["metadata"]["name"], f"{ready}/{len(pod['spec']['containers'])}", status, restarts,
            _age(pod["metadata"].get("creationTimestamp", ""))]


def _table(resource: str, items: list[Obj], rv: int) -> Obj:
    if resource == "pods":
        cols = [("Name", "string"), ("Ready", "string"), ("Status", "string"),
                ("Restarts", "integer"), ("Age", "string")]
        rows = [_pod_row(o) for o in items]
    else:
        cols = [("Name", "string"), ("Age", "string")]
        rows = [[o["metadata"]["name"], _age(o["metadata"].get("creationTimestamp", ""))] for o in items]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(rv)},
        "columnDefinitions": [
            {"name": n, "type": t, "format": "name" if n == "Name" else "", "description": "",
             "priority": 0} for n, t in cols
        ],
        "rows": [{"cells": r, "object": o} for r, o in zip(rows, items, strict=True)],
    }


class FakeKube:
    """An API server on 127.0.0.1 with a fake kubelet behind it.

    Use as a context manager or call start()/stop(). `faults`, `store` and
    `kubelet` are public for tests; the fault shortcuts below cover the common cases.
    With `tls=True` it serves HTTPS (a throwaway CA made with the `openssl` CLI at
    start(); see protocol/conformance/fakekube/tls.py) and `url`/`port`/the kubeconfig point there.

    Every request must carry the server's random `token` (`Authorization: Bearer`, or over
    plain HTTP the server URL's first path segment), which only the kubeconfigs it writes
    hold (see protocol/conformance/fakekube/auth.py).
    """

    # Every server made in this process, so a test session can check its leftovers.
    instances: ClassVar[list[FakeKube]] = []

    def __init__(self, backend: str | Backend = "local", *, port: int = 0,
                 root_dir: str | None = None, use_namespaces: bool | None = None,
                 tls: bool = False) -> None:
        if isinstance(backend, str):
            backend = make_backend(backend, use_namespaces=use_namespaces)
        self.backend: Backend = backend
        self._own_root = root_dir is None
        # Outside /tmp: a pod's own /tmp is bind-mounted over /tmp inside its namespace.
        base = "/var/tmp" if os.path.isdir("/var/tmp") and os.access("/var/tmp", os.W_OK) else None
        self.root_dir = root_dir or tempfile.mkdtemp(prefix="fakekube-", dir=base)
        self.store = Store()
        self.faults = Faults()
        self.kubelet = Kubelet(self.store, self.backend, self.root_dir)
        self._requests: list[dict[str, Any]] = []
        self._req_lock = threading.Lock()
        self.stopping = threading.Event()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.tls = tls
        self.ca_file: str | None = None  # the throwaway CA's PEM (tls only, after start())
        self._tls: TLSTerminator | None = None
        self.token = auth.new_token()
        self._extra_tokens: frozenset[str] = frozenset()  # replaced whole: handlers read it
        for ns in ("default", "kube-system", "kube-public"):
            self.create_namespace(ns)
        FakeKube.instances.append(self)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> FakeKube:
        handler = type("BoundHandler", (_Handler,), {"kube": self})
        if self.tls:
            # Certificates first: a missing openssl fails before anything listens.
            self.ca_file, cert, key = make_certs(os.path.join(self.root_dir, "tls"))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0 if self.tls else self._port), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, name="fakekube-http",
                                        daemon=True)
        self._thread.start()
        if self.tls:
            self._tls = TLSTerminator(("127.0.0.1", self._port), ("127.0.0.1", self.plain_port),
                                      cert, key).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._tls is not None:
            self._tls.stop()
            self._tls = None
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self.store.close_watchers()
        self.kubelet.shutdown()
        self.backend.shutdown()
        if self._own_root:
            shutil.rmtree(self.root_dir, ignore_errors=True)
        elif self.tls:
            shutil.rmtree(os.path.join(self.root_dir, "tls"), ignore_errors=True)

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port clients use (the HTTPS one with tls)."""
        if self._tls is not None:
            return self._tls.port
        return self.plain_port

    @property
    def plain_port(self) -> int:
        """The plain HTTP listener (with tls, only the terminator should talk to it)."""
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def kubeconfig_text(self, namespace: str = "default") -> str:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fakekube", "cluster": self._cluster()}],
            # The only credential the server takes (over HTTP as over HTTPS).
            "users": [{"name": "fakekube", "user": {"token": self.token}}],
            "contexts": [{"name": "fakekube", "context": {"cluster": "fakekube", "user": "fakekube",
                                                         "namespace": namespace}}],
            "current-context": "fakekube",
            "preferences": {},
        }
        return orjson.dumps(cfg, option=orjson.OPT_INDENT_2).decode()  # JSON is valid YAML

    def _cluster(self) -> dict[str, str]:
        # Over plain HTTP kubectl sends no credentials: the URL carries the token too.
        cluster = {"server": self.url if self.tls else self.url + auth.path_prefix(self.token)}
        if self.tls:
            assert self.ca_file is not None, "server not started"
            cluster["certificate-authority-data"] = ca_data(self.ca_file)
        return cluster

    def write_kubeconfig(self, path: str, namespace: str = "default") -> str:
        """The kubeconfig (it holds the token) at `path`, mode 0600 (auth.write_private)."""
        auth.write_private(path, self.kubeconfig_text(namespace))
        return path

    # -- credentials ---------------------------------------------------------
    def accept_token(self, token: str) -> None:
        """Take `token` too, until forget_tokens() (the fixtures call it before each test):
        the static token file of a real server, for tests that pin what a client sends."""
        self._extra_tokens = self._extra_tokens | {token}

    def forget_tokens(self) -> None:
        """Back to the server's own token only."""
        self._extra_tokens = frozenset()

    def authenticate(self, header: str | None, target: str) -> str | None:
        """The request target without its credential prefix, or None: refuse with 401."""
        return auth.check(header, target, (self.token, *self._extra_tokens))

    # -- state helpers -------------------------------------------------------
    def create_namespace(self, name: str) -> Obj:
        found = self.store.find("namespaces", "", name)
        if found is not None:
            return found
        return self.store.create("namespaces", "", _namespace(name))

    def reset(self) -> None:
        """Back to a fresh cluster: no faults, no request log, no pods (killed at once),
        secrets, configmaps or namespaces beyond default/kube-system/kube-public."""
        self.faults.clear()
        self.clear_requests()
        for pod in self.store.list("pods", None):
            try:
                self.kubelet.delete_pod(pod["metadata"]["namespace"], pod["metadata"]["name"], 0)
            except ApiError:
                pass
        for res in ("secrets", "configmaps"):
            for obj in self.store.list(res, None):
                self.store.delete(res, obj["metadata"]["namespace"], obj["metadata"]["name"])
        for ns in self.store.list("namespaces", None):
            if ns["metadata"]["name"] not in ("default", "kube-system", "kube-public"):
                self.store.delete("namespaces", "", ns["metadata"]["name"])

    def pod(self, namespace: str, name: str) -> Obj | None:
        return self.store.find("pods", namespace, name)

    def wait_pod(self, namespace: str, name: str, phase: str = "Running", timeout: float = 30) -> Obj:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self.pod(namespace, name)
            if p is not None and p["status"].get("phase") == phase:
                return p
            time.sleep(0.05)
        raise TimeoutError(f"pod {namespace}/{name} not {phase}: {self.pod(namespace, name)}")

    def requests(self) -> list[dict[str, Any]]:
        with self._req_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._req_lock:
            self._requests.clear()

    def log_request(self, entry: dict[str, Any]) -> None:
        with self._req_lock:
            self._requests.append(entry)
            if len(self._requests) > 20000:
                del self._requests[:10000]

    # -- fault shortcuts -----------------------------------------------------
    def fail(self, method: str = "*", path: str = ".*", status: int = 500, times: int | None = 1,
             retry_after: int | None = None, message: str = "") -> Fault:
        """Answer the next `times` matching requests with `status` (429 adds Retry-After)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        return self.faults.add("error", method=method, path=path, status=status, times=times,
                               retry_after=retry_after, message=message)

    def hang(self, method: str = "*", path: str = ".*", times: int | None = 1,
             delay: float = 300.0) -> Fault:
        """Never answer matching requests (up to `delay` s, or until the client gives up)."""
        return self.faults.add("timeout", method=method, path=path, times=times, delay=delay)

    def slow_exec(self, delay: float, times: int | None = 1, path: str = ".*") -> Fault:
        return self.faults.add("exec-slow", path=path, delay=delay, times=times)

    def refuse_exec(self, status: int = 500, times: int | None = 1, path: str = ".*") -> Fault:
        return self.faults.add("exec-refuse", path=path, status=status, times=times)

    def deny(self, verb: str, resource: str, namespace: str | None = None,
             times: int | None = None) -> Fault:
        return self.faults.add("deny", verb=verb, resource=resource, namespace=namespace, times=times)

    def hold_pending(self, pod: str = ".*", times: int | None = None) -> Fault:
        """Pods created with a matching name stay Pending until release()."""
        return self.faults.add("pending", pod=pod, times=times)

    def release(self, namespace: str, name: str) -> None:
        self.kubelet.runner(namespace, name).released.set()

    def exit_container(self, namespace: str, name: str, code: int,
                       container: str | None = None) -> None:
        """Kill a running container's main process; it is reported as exiting with `code`."""
        self.kubelet.runner(namespace, name).exit_container(code, container)

    def evict(self, namespace: str, name: str) -> None:
        self.kubelet.runner(namespace, name).evict()


def make_backend(name: str, *, use_namespaces: bool | None = None) -> Backend:
    if name == "local":
        from protocol.conformance.fakekube.backends.local import LocalBackend

        return LocalBackend(use_namespaces=use_namespaces)
    if name == "docker":
        from protocol.conformance.fakekube.backends.docker import DockerBackend

        return DockerBackend()
    raise ValueError(f"unknown backend {name!r} (local or docker)")


def _namespace(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


class _Handler(BaseHTTPRequestHandler):
    kube: FakeKube
    protocol_version = "HTTP/1.1"
    server_version = "fakekube"
    # Go's net/http (the real API server) sets TCP_NODELAY on every connection. Without it a
    # response written in two sends (headers, body; an exec's output, then its status) waits
    # for the client's delayed ACK: ~40 ms added to every kubectl call that no cluster has.
    disable_nagle_algorithm = True
    #: This request's entry in the request log (empty for control requests).
    _entry: dict[str, Any] | None = None
    #: This request's body once read (None: not read yet).
    _raw: bytes | None = None
    #: The header lines read with the request line (limits.read_head).
    _head_lines: list[bytes] = []  # noqa: RUF012

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's loop step with the real server's head limits (limits.py)."""
        try:
            try:
                head = read_head(self.rfile)
            except HeadTooLarge:
                self.close_connection = True
                refuse_head(self.connection, self.wfile, self.rfile)
                return
            if not head:
                self.close_connection = True
                return
            self.raw_requestline, self._head_lines = head[0], head[1:]
            if not self.parse_request():
                return
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(501, f"Unsupported method ({self.command!r})")
                return
            method()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def parse_request(self) -> bool:
        """The request line by the base class; the headers (already read) by email.parser,
        without http.client's 64 KiB-per-line and 100-header limits."""
        rfile = self.rfile
        self.rfile = io.BytesIO(b"\r\n")  # the base class reads an empty header block
        try:
            if not super().parse_request():
                return False
        finally:
            self.rfile = rfile
        text = b"".join(self._head_lines).decode("iso-8859-1")
        self.headers = email.parser.Parser(_class=self.MessageClass).parsestr(text)
        conntype = self.headers.get("Connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and self.request_version >= "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log (GET /_fake/requests) replaces stderr noise

    # -- plumbing ----------------------------------------------------------
    def _body(self) -> bytes:
        """The request body, read once: later calls (and `_drain`) get the same bytes."""
        if self._raw is None:
            n = int(self.headers.get("Content-Length") or 0)
            self._raw = b""
            check_body_size(n, self.rfile)
            self._raw = self.rfile.read(n) if n > 0 else b""
        return self._raw

    def _drain(self) -> None:
        """Read a body nobody asked for (a request denied, failed or refused before its
        handler got to it): left unread, its bytes would be parsed as the next request on
        this keep-alive connection, which then fails with 400. A body of unknown length
        (chunked) cannot be skipped safely: the connection is closed instead."""
        if self._raw is not None or self.close_connection:
            return
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            return
        try:
            self._body()
        except ApiError:
            pass  # over the size limit: read and dropped; the answer stays the first error
        except (ValueError, OSError):
            self.close_connection = True

    def _json_body(self) -> Any:
        if "protobuf" in (self.headers.get("Content-Type") or ""):
            try:
                return decode_object(self._body())
            except (ValueError, IndexError) as e:
                raise ApiError(415, f"the body of the request was in an unknown format: {e}; "
                                    "accepted media types include: application/json") from e
        raw = self._body()
        try:
            return orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError as e:
            raise ApiError(400, f"error decoding request body: {e}") from e

    def _send(self, code: int, body: bytes, ctype: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self._status = code
        if self._entry:
            self._entry["status"] = code  # before the client can read its answer
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(code, orjson.dumps(obj), headers=headers)

    def _error(self, e: ApiError, headers: dict[str, str] | None = None) -> None:
        self._drain()
        self._json(e.code, e.status(), headers)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _dispatch(self) -> None:
        self._status = 0
        self._raw = None
        # Before anything else, as the real server's authentication filter: a request
        # refused here reaches no fault, control endpoint, upgrade or handler.
        target = self.kube.authenticate(self.headers.get("Authorization"), self.path)
        if target is not None:
            self.path = target
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        started = time.monotonic()
        control = path.startswith("/_fake")
        entry: dict[str, Any] = {}
        self._entry = entry
        if not control:
            # Logged on arrival, completed below: a client that has its answer (and a test
            # that then reads the log) always finds the request, however loaded the machine.
            entry.update(method=self.command, path=path, query=url.query, status=0,
                         userAgent=self.headers.get("User-Agent", ""),
                         accept=self.headers.get("Accept", ""),
                         contentType=self.headers.get("Content-Type", ""), time=time.time(),
                         duration=0.0)
            self.kube.log_request(entry)
        try:
            if target is None:
                raise ApiError(401, "Unauthorized")
            if control:
                self._control(path, query)
                return
            fault = self.kube.faults.request_fault(self.command, path)
            if fault is not None:
                self._apply_fault(fault, path)
                return
            self._route(path, query)
            self._drain()
        except ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if entry:
                entry.update(status=self._status, duration=time.monotonic() - started)

    def _apply_fault(self, fault: Fault, path: str) -> None:
        if fault.kind == "timeout":
            self._hang(fault.delay)
            return
        msg = fault.message or f"fakekube: injected fault on {self.command} {path}"
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        self._body()
        self._error(ApiError(fault.status, msg), headers)

    def _hang(self, limit: float) -> None:
        """Hold the request without answering until the client disconnects."""
        self._status = -1
        self.close_connection = True
        deadline = time.monotonic() + limit
        sock = self.connection
        while time.monotonic() < deadline and not self.kube.stopping.is_set():
            r, _, _ = select.select([sock], [], [], 0.2)
            if r:
                try:
                    if not sock.recv(65536, socket.MSG_PEEK):
                        return
                    sock.recv(65536)  # discard the body; keep waiting
                except OSError:
                    return

    # -- authorization -------------------------------------------------------
    def _authorize(self, verb: str, resource: str, namespace: str, name: str = "") -> None:
        if self.kube.faults.denied(verb, resource, namespace) is None:
            return
        base = resource.partition("/")[0]
        what = f'{base} "{name}"' if name else base
        # A namespace is named as the namespace it is (an object in itself, at no scope).
        scope = namespace or (name if base == "namespaces" else "")
        where = f' in the namespace "{scope}"' if scope else " at the cluster scope"
        # As the real apiserver words it: the subresource joins the resource ("pods/exec").
        msg = (f'{what} is forbidden: User "system:anonymous" cannot {verb} resource "{resource}"'
               f' in API group ""{where}')
        raise ApiError(403, msg, details=details_of(name, base))

    # -- routing -------------------------------------------------------------
    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        m = self.command
        static = {
            "/version": discovery.VERSION,
            "/api": discovery.API_VERSIONS,
            "/apis": discovery.API_GROUPS,
            "/api/v1": discovery.CORE_V1,
            "/apis/authorization.k8s.io": discovery.AUTHZ_GROUP,
            "/apis/authorization.k8s.io/v1": discovery.AUTHZ_V1,
            "/openapi/v3": discovery.OPENAPI_ROOT,
            "/openapi/v3/api/v1": discovery.OPENAPI_V1,
        }
        if m in ("GET", "HEAD") and path in static:
            self._json(200, static[path])
            return
        if path in ("/healthz", "/readyz", "/livez"):
            self._send(200, b"ok", "text/plain")
            return
        for pattern, name in _ROUTES:
            hit = pattern.fullmatch(path)
            if hit:
                getattr(self, "_r_" + name.replace("-", "_"))(hit.groupdict(), query)
                return
        raise ApiError(404, "the server could not find the requested resource", details={})

    def _r_ssar(self, _g: dict[str, str], _q: dict[str, list[str]]) -> None:
        if self.command != "POST":
            raise ApiError(405, "method not allowed")
        if "protobuf" in (self.headers.get("Content-Type") or ""):
            try:
                review = access_review(self._body())
            except (ValueError, IndexError) as e:
                raise ApiError(400, f"cannot decode protobuf body: {e}") from e
        else:
            review = self._json_body()
        attrs = (review.get("spec") or {}).get("resourceAttributes") or {}
        resource = attrs.get("resource", "")
        if attrs.get("subresource"):
            resource += "/" + attrs["subresource"]
        denied = self.kube.faults.would_deny(attrs.get("verb", ""), resource, attrs.get("namespace", ""))
        review["status"] = {"allowed": not denied}  # like RBAC: a plain "no", no reason
        review.setdefault("metadata", {})["creationTimestamp"] = None
        review["kind"] = "SelfSubjectAccessReview"
        review["apiVersion"] = "authorization.k8s.io/v1"
        self._json(201, review)

    def _r_all_namespaces(self, g: dict[str, str], query: dict[str, list[str]]) -> None:
        if self.command not in ("GET", "HEAD"):
            raise ApiError(405, "method not allowed")
        self._list_or_watch(g["res"], None, query)

    def _r_collection(self, g: dict[str, str], query: dict[str, list[str]]) -> None:
        res = g["res"]
        ns = g.get("ns") or ""
        store = self.kube.store
        if res != "namespaces" and self.command in ("GET", "HEAD"):
            self._list_or_watch(res, ns, query)
        elif res == "namespaces" and self.command in ("GET", "HEAD"):
            self._list_or_watch(res, None, query)
        elif self.command == "POST":
            self._authorize("create", res, ns)
            obj = require_kind(self._json_body(), KINDS[res], self._body())
            self._json(201, self._create(res, ns, obj, dry=bool(query.get("dryRun"))))
        elif self.command == "DELETE" and res != "namespaces":
            self._authorize("deletecollection", res, ns)
            opts = self._json_body()
            sel = parse_label_selector(_q1(query, "labelSelector"))
            deleted = [self._delete(res, ns, o["metadata"]["name"], query, opts)
                       for o in store.list(res, ns) if sel(o["metadata"].get("labels") or {})]
            self._json(200, {"kind": KINDS[res] + "List", "apiVersion": "v1",
                             "metadata": {"resourceVersion": str(store.resource_version)},
                             "items": deleted})
        else:
            raise ApiError(405, "method not allowed")

    def _r_item(self, g: dict[str, str], query: dict[str, list[str]]) -> None:
        res, name = g["res"], g["name"]
        ns = g.get("ns") or ""
        store = self.kube.store
        if self.command in ("GET", "HEAD"):
            self._authorize("get", res, ns, name)
            obj = store.get(res, ns, name)
            if "as=Table" in (self.headers.get("Accept") or ""):
                self._json(200, _table(res, [obj], store.resource_version))
                return
            self._json(200, obj)
        elif self.command == "DELETE":
            self._authorize("delete", res, ns, name)
            self._json(200, self._delete(res, ns, name, query, self._json_body()))
        elif self.command == "PATCH":
            self._authorize("patch", res, ns, name)
            self._json(200, self._patch(res, ns, name, query))
        elif self.command == "PUT":
            self._authorize("update", res, ns, name)
            body = require_kind(self._json_body(), KINDS[res], self._body())
            self._json(200, self._update(res, ns, name, body, dry=bool(query.get("dryRun"))))
        else:
            raise ApiError(405, "method not allowed")

    def _r_status(self, g: dict[str, str], _q: dict[str, list[str]]) -> None:
        self._authorize("get", "pods/status", g["ns"], g["name"])
        if self.command not in ("GET", "HEAD"):
            raise ApiError(405, "the fake kubelet owns pod status")
        self._json(200, self.kube.store.get("pods", g["ns"], g["name"]))

    # -- CRUD ------------------------------------------------------------------
    def _create(self, res: str, ns: str, obj: Obj, *, dry: bool = False) -> Obj:
        store = self.kube.store
        obj = copy.deepcopy(obj)
        obj["apiVersion"] = "v1"
        obj["kind"] = KINDS[res]
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace") and ns and meta["namespace"] != ns:
            raise ApiError(400, "the namespace of the provided object does not match the "
                                "namespace sent on the request")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + os.urandom(3).hex()[:5]
        for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(k, None)
        if ns:  # admission (NamespaceLifecycle) runs before validation
            _check_namespace(store, ns, res, str(meta.get("name") or "Unknown"))
        if res == "pods":
            validate_pod(obj)
            apply_defaults(obj)
            meta.setdefault("generation", 1)
        elif res == "namespaces":
            validate_metadata("Namespace", obj, subdomain=False)
            obj = _namespace(meta["name"]) | {"metadata": {**_namespace(meta["name"])["metadata"], **meta}}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        else:
            validate_metadata(KINDS[res], obj)
            validate_data(KINDS[res], obj)
            _normalize_data(res, obj)
        if dry:
            if store.find(res, ns, meta["name"]) is not None:
                raise already_exists(res, meta["name"])
            return obj
        hold = res == "pods" and self.kube.faults.hold_pending(meta["name"]) is not None
        with store.lock:
            created = store.create(res, ns, obj)
            if res == "pods":
                self.kube.kubelet.pod_created(created, hold=hold)
        return created

    def _update(self, res: str, ns: str, name: str, body: Obj, *, dry: bool = False) -> Obj:
        store = self.kube.store
        body_name = (body.get("metadata") or {}).get("name", name)
        if body_name != name:  # before the lookup, as the real server does
            raise ApiError(400, f"the name of the object ({body_name}) does not match the name on the URL ({name})")
        with store.lock:
            cur = store.get(res, ns, name)
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv and rv != cur["metadata"]["resourceVersion"]:
                raise conflict(res, name)
            new = copy.deepcopy(body)
            new["apiVersion"], new["kind"] = "v1", KINDS[res]
            meta = new.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "namespace", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "resourceVersion", "generation"):
                if k in cur["metadata"]:
                    meta[k] = cur["metadata"][k]
            meta["name"] = name
            if res == "pods":
                validate_pod(new)
                defaulted = copy.deepcopy(new)
                apply_defaults(defaulted)
                new["spec"] = defaulted["spec"]
                _check_pod_spec_change(cur, new)
                new["status"] = cur["status"]
            elif res == "namespaces":
                new["status"] = cur["status"]
                new.setdefault("spec", cur.get("spec", {}))
            else:
                validate_metadata(KINDS[res], new)
                validate_data(KINDS[res], new)
                _normalize_data(res, new)
            if dry:
                return new
            return store.replace(res, ns, new)

    def _patch(self, res: str, ns: str, name: str, query: dict[str, list[str]]) -> Obj:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in PATCH_TYPES:
            raise ApiError(415, "415: Unsupported Media Type", details={})
        apply = ctype == "application/apply-patch+yaml"
        if not apply:
            check_patch_syntax(self._body())  # before the lookup, as the real server does
        store = self.kube.store
        with store.lock:
            cur = store.find(res, ns, name)
            if cur is None:
                if apply:  # server-side apply may create
                    return self._create(res, ns, self._json_body(), dry=bool(query.get("dryRun")))
                raise not_found(res, name)
            if apply:
                new = merge_patch(cur, self._json_body())
            else:
                patch = decode_patch(self._body(), ctype)
                if ctype == "application/json-patch+json":
                    new = json_patch(cur, patch)
                else:
                    new = merge_patch(cur, patch, strategic=ctype.startswith("application/strategic")
                                      and res != "namespaces")
            if not isinstance(new, dict):
                raise ApiError(422, PATCH_REJECTED, details={})
            new = keep_fields(res, new)
            new.setdefault("metadata", {})["resourceVersion"] = cur["metadata"]["resourceVersion"]
            return self._update(res, ns, name, new, dry=bool(query.get("dryRun")))

    def _delete(self, res: str, ns: str, name: str, query: dict[str, list[str]], opts: Any) -> Obj:
        store = self.kube.store
        grace_q = _q1(query, "gracePeriodSeconds")
        grace_b = opts.get("gracePeriodSeconds") if isinstance(opts, dict) else None
        grace = int(grace_q) if grace_q else (int(grace_b) if grace_b is not None else None)
        if res == "namespaces":
            return self._delete_namespace(name)
        with store.lock:  # the check and the delete as one step, as the real server makes them
            check_preconditions(res, store.get(res, ns, name), opts)
            if res == "pods":
                return self.kube.kubelet.delete_pod(ns, name, grace)
            return store.delete(res, ns, name)

    def _delete_namespace(self, name: str) -> Obj:
        store = self.kube.store
        with store.lock:
            ns = store.get("namespaces", "", name)
            if ns["status"].get("phase") == "Terminating":
                return ns
            ns["status"]["phase"] = "Terminating"
            ns["metadata"]["deletionTimestamp"] = now_iso()
            ns = store.replace("namespaces", "", ns)

        def finish() -> None:
            for res in ("secrets", "configmaps"):
                for o in store.list(res, name):
                    store.delete(res, name, o["metadata"]["name"])
            for p in store.list("pods", name):
                try:
                    self.kube.kubelet.delete_pod(name, p["metadata"]["name"], None)
                except ApiError:
                    pass
            while store.list("pods", name) and not self.kube.stopping.is_set():
                time.sleep(0.1)
            try:
                store.delete("namespaces", "", name)
            except ApiError:
                pass

        threading.Thread(target=finish, daemon=True).start()
        return ns

    # -- list & watch ------------------------------------------------------------
    def _list_or_watch(self, res: str, ns: str | None, query: dict[str, list[str]]) -> None:
        try:
            label_sel = parse_label_selector(_q1(query, "labelSelector"))
            field_sel = parse_field_selector(_q1(query, "fieldSelector"))
        except SelectorError as e:
            raise ApiError(400, str(e)) from e

        def match(o: Obj) -> bool:
            return label_sel(o["metadata"].get("labels") or {}) and field_sel(o)

        watch = _truthy(query, "watch")
        self._authorize("watch" if watch else "list", res, ns or "")
        if watch:
            self._watch(res, ns, query, match)
            return
        store = self.kube.store
        with store.lock:
            items = [o for o in store.list(res, ns) if match(o)]
            rv = store.resource_version
        if "as=Table" in (self.headers.get("Accept") or ""):
            self._json(200, _table(res, items, rv))
            return
        self._json(200, {"kind": KINDS[res] + "List", "apiVersion": "v1",
                         "metadata": {"resourceVersion": str(rv)}, "items": items})

    def _watch(self, res: str, ns: str | None, query: dict[str, list[str]], match: Any) -> None:
        store = self.kube.store
        rv_q = _q1(query, "resourceVersion")
        initial = _truthy(query, "sendInitialEvents")
        bookmarks = _truthy(query, "allowWatchBookmarks")
        timeout = float(_q1(query, "timeoutSeconds") or 1800)
        since = int(rv_q) if rv_q and rv_q != "0" and not initial else None
        with store.lock:
            watcher, missed = store.watch(res, ns, since)
            snapshot = [o for o in store.list(res, ns) if match(o)] if since is None else []
            rv_now = store.resource_version
        if missed is None:
            store.unwatch(watcher)
            raise ApiError(410, f"too old resource version: {since} ({rv_now})", reason="Expired")
        self._status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.close_connection = True

        def chunk(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def send(type_: str, obj: Obj) -> None:
            chunk(orjson.dumps({"type": type_, "object": obj}) + b"\n")

        def bookmark(end: bool = False) -> None:
            meta: dict[str, Any] = {"resourceVersion": str(store.resource_version)}
            if end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            send("BOOKMARK", {"kind": KINDS[res], "apiVersion": "v1", "metadata": meta})

        try:
            for o in snapshot:
                send("ADDED", o)
            if initial:
                bookmark(end=True)
            for old in missed:
                self._send_event(send, old, match)
            deadline = time.monotonic() + timeout
            last_bookmark = time.monotonic()
            while not self.kube.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    ev = watcher.events.get(timeout=min(left, 1.0))
                except queue.Empty:
                    if bookmarks and time.monotonic() - last_bookmark > 5:
                        bookmark()
                        last_bookmark = time.monotonic()
                    continue
                if ev is None:
                    break
                self._send_event(send, ev, match)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            store.unwatch(watcher)

    @staticmethod
    def _send_event(send: Any, ev: Event, match: Any) -> None:
        now_ok = match(ev.obj)
        was_ok = ev.old is not None and match(ev.old)
        if ev.type == "ADDED" and now_ok:
            send("ADDED", ev.obj)
        elif ev.type == "MODIFIED":
            if now_ok and was_ok:
                send("MODIFIED", ev.obj)
            elif now_ok:
                send("ADDED", ev.obj)
            elif was_ok:
                send("DELETED", ev.obj)
        elif ev.type == "DELETED" and (now_ok or was_ok):
            send("DELETED", ev.obj)

    # -- exec & log --------------------------------------------------------------
    def _r_exec(self, g: dict[str, str], query: dict[str, list[str]]) -> None:
        ns, name = g["ns"], g["name"]
        if self.command not in ("GET", "POST"):
            raise ApiError(405, "method not allowed")
        self._authorize("create", "pods/exec", ns, name)
        fault = self.kube.faults.exec_fault(self.command, self.path.split("?")[0])
        if fault is not None and fault.kind == "exec-refuse":
            raise ApiError(fault.status, fault.message or "fakekube: exec upgrade refused")
        if fault is not None and fault.kind == "exec-slow":
            time.sleep(fault.delay)
        pod = self.kube.store.get("pods", ns, name)
        phase = pod["status"].get("phase")
        if phase in ("Succeeded", "Failed"):
            raise ApiError(400, f"cannot exec into a container in a completed pod; current phase is {phase}")
        command = query.get("command") or []
        if not command:
            raise ApiError(400, "you must specify at least 1 command")
        container = _q1(query, "container") or None
        sandbox, run = self.kube.kubelet.runner(ns, name).exec_target(container)
        upgrade = (self.headers.get("Upgrade") or "").lower()
        if upgrade != "websocket":
            raise ApiError(400, "fakekube speaks only WebSocket exec (v4/v5.channel.k8s.io), "
                                f"not {upgrade or 'plain HTTP'}; use kubectl >= 1.30")
        proto = choose_subprotocol(self.headers.get("Sec-WebSocket-Protocol") or "")
        if proto is None:
            raise ApiError(400, "unable to upgrade connection: no supported subprotocol "
                                "(v5.channel.k8s.io, v4.channel.k8s.io)")
        tty = _truthy(query, "tty")
        stdin = _truthy(query, "stdin")
        argv = sandbox.exec_argv(run, command, tty=tty, stdin=stdin)
        self._status = 101
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(self.headers.get("Sec-WebSocket-Key", "")))
        self.send_header("Sec-WebSocket-Protocol", proto)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        ws = WebSocket(self.rfile, self.connection)
        run_exec(ws, argv, command, stdin=stdin, tty=tty, v5=proto == V5)

    def _r_log(self, g: dict[str, str], query: dict[str, list[str]]) -> None:
        ns, name = g["ns"], g["name"]
        self._authorize("get", "pods/log", ns, name)
        pod = self.kube.store.get("pods", ns, name)
        container = _q1(query, "container") or pod["spec"]["containers"][0]["name"]
        runner = self.kube.kubelet.runner(ns, name)
        if runner.sandbox is None:
            raise ApiError(400, f'container "{container}" in pod "{name}" is waiting to start: '
                                "ContainerCreating")
        data = runner.sandbox.read_log(container)
        tail = _q1(query, "tailLines")
        if tail:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(tail):]) if int(tail) else b""
        if not _truthy(query, "follow"):
            self._send(200, data, "text/plain")
            return
        self._status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        sent = len(runner.sandbox.read_log(container)) if tail else 0
        try:
            if tail and data:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            while True:
                full = runner.sandbox.read_log(container)
                if len(full) > sent:
                    part = full[sent:]
                    sent = len(full)
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.flush()
                if container not in runner.running or self.kube.stopping.is_set():
                    break
                time.sleep(0.2)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    # -- control endpoints -------------------------------------------------------
    def _control(self, path: str, query: dict[str, list[str]]) -> None:
        kube = self.kube
        m = self.command
        if path == "/_fake/requests":
            if m == "DELETE":
                kube.clear_requests()
            self._json(200, kube.requests())
            return
        if path == "/_fake/faults":
            if m == "POST":
                body = self._json_body()
                rules = body if isinstance(body, list) else [body]
                try:
                    made = [kube.faults.add(**r).to_json() for r in rules]
                except (TypeError, ValueError) as e:
                    raise ApiError(400, str(e)) from e
                self._json(201, made)
            elif m == "DELETE":
                kube.faults.clear()
                self._json(200, [])
            else:
                self._json(200, [f.to_json() for f in kube.faults.list()])
            return
        hit = re.fullmatch(r"/_fake/faults/(\d+)", path)
        if hit and m == "DELETE":
            kube.faults.remove(int(hit.group(1)))
            self._json(200, {})
            return
        hit = re.fullmatch(r"/_fake/pods/([^/]+)/([^/]+)/(exit|evict|release)", path)
        if hit and m == "POST":
            ns, name, action = hit.groups()
            body = self._json_body()
            if action == "exit":
                kube.exit_container(ns, name, int(body.get("code", 1)), body.get("container"))
            elif action == "evict":
                kube.evict(ns, name)
            else:
                kube.release(ns, name)
            self._json(200, {"ok": True})
            return
        if path == "/_fake/namespaces" and m == "POST":
            self._json(201, kube.create_namespace(self._json_body()["name"]))
            return
        raise ApiError(404, f"unknown control endpoint {m} {path}")


def _check_namespace(store: Store, ns: str, res: str, name: str) -> None:
    obj = store.find("namespaces", "", ns)
    if obj is None:
        raise not_found("namespaces", ns)
    if obj["status"].get("phase") == "Terminating":
        raise ApiError(403, f'{res} "{name}" is forbidden: unable to create new content in namespace {ns} '
                            "because it is being terminated",
                       details={**details_of(name, res), "causes": [
                           {"reason": "NamespaceTerminating", "message": f"namespace {ns} is being terminated",
                            "field": "metadata.namespace"}]})


#: The top-level fields each kind has: a patch that adds another one (a JSON patch path
#: without its leading slash does) is decoded into the typed object, which drops it.
_FIELDS = {
    "pods": {"apiVersion", "kind", "metadata", "spec", "status"},
    "namespaces": {"apiVersion", "kind", "metadata", "spec", "status"},
    "configmaps": {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"},
    "secrets": {"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"},
}


def keep_fields(res: str, obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k in _FIELDS[res]}


def _normalize_data(res: str, obj: Obj) -> None:
    if res == "secrets":
        obj["type"] = obj.get("type") or "Opaque"
        data = dict(obj.get("data") or {})
        for k, v in data.items():
            try:
                base64.b64decode(v, validate=True)
            except (ValueError, TypeError) as e:
                raise ApiError(400, f"illegal base64 data for key {k}") from e
        for k, v in (obj.pop("stringData", None) or {}).items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj["data"] = data
    elif res == "configmaps":
        # null decodes to "" in a map of strings (a JSON patch `copy` from a missing key)
        obj["data"] = {k: "" if v is None else str(v) for k, v in (obj.get("data") or {}).items()}


def _check_pod_spec_change(cur: Obj, new: Obj) -> None:
    def strip(spec: Obj) -> Obj:
        s = copy.deepcopy(spec)
        for group in ("containers", "initContainers"):
            for c in s.get(group) or []:
                c.pop("image", None)
        for k in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
            s.pop(k, None)
        return s

    if strip(new["spec"]) != strip(cur["spec"]):
        raise ApiError(422, f'Pod "{cur["metadata"]["name"]}" is invalid: {_SPEC_MUTABLE_MSG}',
                       details={"name": cur["metadata"]["name"], "kind": "Pod",
                                "causes": [{"reason": "FieldValueForbidden",
                                            "message": _SPEC_MUTABLE_MSG.split(": ", 1)[1],
                                            "field": "spec"}]})
