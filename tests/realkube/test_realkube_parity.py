"""The offline API server answers as the real one: the same raw HTTP request goes to the real
kube-apiserver (admin certificate) and to a FakeKube in this process, and both must give the
same status code and the same Status (reason, message, details) or the same object fields.

What it pins: JSON patch (RFC 6902 as evanphx/json-patch v4 applies it, 422 with a bare
Status when an operation does not apply), PATCH body errors, the Status shapes of the
404/409/422/403 the providers meet on pods, namespaces and configmaps, the request-size
limits (1 MiB of request line + headers, 3 MiB of body), and Pod Security's refusal as
gc-session-k8s reports it.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson
import pytest
from helpers import wait_for
from realkube_support import Cluster

from protocol.conformance.fakekube.server import FakeKube

pytestmark = pytest.mark.realkube

JSON = "application/json"
JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
REJECTED = "the server rejected our request due to an error in our request"


class Server:
    """One end of the comparison: where to connect and how (TLS with the admin cert, or plain
    with the fake's bearer token in `auth`)."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None,
                 auth: dict[str, str] | None = None) -> None:
        self.host, self.port, self.context = host, port, context
        self.auth = auth or {}

    def connect(self) -> http.client.HTTPConnection:
        if self.context is not None:
            return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=30)
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None, ctype: str = JSON,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        conn = self.connect()
        try:
            conn.request(method, path, body=body,
                         headers={"Content-Type": ctype, "Accept": JSON, **self.auth, **(headers or {})})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return resp.status, raw

    def raw(self, data: bytes) -> bytes:
        """Send bytes as they are (`auth` added after the request line) and read the answer
        until the server closes."""
        line, sep, rest = data.partition(b"\r\n")
        data = line + sep + b"".join(f"{k}: {v}\r\n".encode() for k, v in self.auth.items()) + rest
        sock: socket.socket = socket.create_connection((self.host, self.port), timeout=30)
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_hostname=self.host)
        out = b""
        try:
            sock.sendall(data)
            while chunk := sock.recv(65536):
                out += chunk
        except OSError:
            pass
        finally:
            sock.close()
        return out


class Pair(NamedTuple):
    real: Server
    fake: Server
    fake_kube: FakeKube
    namespace: str


def _obj(kind: str, name: str, **fields: Any) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, **fields})


@pytest.fixture(scope="module")
def pair(real_kube: Cluster) -> Iterator[Pair]:
    rk = real_kube.rk
    ctx = ssl.create_default_context(cafile=rk.certs.p("ca.crt"))
    ctx.load_cert_chain(rk.certs.p("admin.crt"), rk.certs.p("admin.key"))
    real = Server("127.0.0.1", int(rk.server.rsplit(":", 1)[1]), ctx)
    fake_kube = FakeKube("local").start()
    fake = Server("127.0.0.1", fake_kube.port, None, {"Authorization": f"Bearer {fake_kube.token}"})
    ns = f"parity-{uuid.uuid4().hex[:6]}"
    for server in (real, fake):
        assert server.request("POST", "/api/v1/namespaces", _obj("Namespace", ns))[0] == 201
        assert server.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                              _obj("ConfigMap", "cm", data={"a": "x"}))[0] == 201
    # Until the controller-manager makes it, admission refuses every pod for want of it.
    assert wait_for(lambda: real.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default")[0] == 200,
                    timeout=60)
    try:
        yield Pair(real, fake, fake_kube, ns)
    finally:
        for server in (real, fake):  # finalizers would hold the namespace's deletion
            server.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/cm",
                           b'{"metadata":{"finalizers":null}}', MERGE)
            server.request("DELETE", f"/api/v1/namespaces/{ns}")
        fake_kube.stop()


def _reset(pair: Pair) -> None:
    """The configmap both servers start each case from: finalizers [a/x, a/y], data {a: x}."""
    body = b'{"metadata":{"finalizers":["a/x","a/y"]},"data":{"a":"x","b":null,"nope":null}}'
    for server in (pair.real, pair.fake):
        assert server.request("PATCH", f"/api/v1/namespaces/{pair.namespace}/configmaps/cm", body,
                              MERGE)[0] == 200


def _comparable(answer: Any) -> Any:
    """What must match: a Status as a whole (bar the user a 403 names), or an object's fields
    a patch can change (not uid, timestamps, managedFields)."""
    if not isinstance(answer, dict):
        return answer
    if answer.get("kind") == "Status":
        status = dict(answer)
        status["message"] = re.sub(r'User "[^"]*"', 'User "U"', str(status.get("message")))
        return status
    meta = answer.get("metadata") or {}
    return {"kind": answer.get("kind"), "name": meta.get("name"), "finalizers": meta.get("finalizers"),
            "labels": meta.get("labels"), "data": answer.get("data")}


class Case(NamedTuple):
    test_id: str
    method: str
    path: str  # under /api/v1/namespaces/{ns}/ unless it starts with "/"
    body: bytes | None
    ctype: str
    status: int  # what the real server answered when the case was written


def _jp(*ops: dict[str, Any]) -> bytes:
    return orjson.dumps(list(ops))


CM = "configmaps/cm"
F = "/metadata/finalizers"
PATCH_CASES = [
    Case("add-past-the-end", "PATCH", CM, _jp({"op": "add", "path": f"{F}/5", "value": "a/z"}), JSON_PATCH, 422),
    Case("add-at-len-appends", "PATCH", CM, _jp({"op": "add", "path": f"{F}/2", "value": "a/z"}), JSON_PATCH, 200),
    Case("add-dash-appends", "PATCH", CM, _jp({"op": "add", "path": f"{F}/-", "value": "a/z"}), JSON_PATCH, 200),
    Case("add-minus-one-appends", "PATCH", CM, _jp({"op": "add", "path": f"{F}/-1", "value": "a/z"}),
         JSON_PATCH, 200),
    Case("add-minus-len-plus-one-prepends", "PATCH", CM,
         _jp({"op": "add", "path": f"{F}/-3", "value": "a/z"}), JSON_PATCH, 200),
    Case("add-too-negative", "PATCH", CM, _jp({"op": "add", "path": f"{F}/-4", "value": "a/z"}), JSON_PATCH, 422),
    Case("add-leading-zero-is-an-index", "PATCH", CM, _jp({"op": "add", "path": f"{F}/01", "value": "a/z"}),
         JSON_PATCH, 200),
    Case("add-plus-sign-is-an-index", "PATCH", CM, _jp({"op": "add", "path": f"{F}/+1", "value": "a/z"}),
         JSON_PATCH, 200),
    Case("add-word-index", "PATCH", CM, _jp({"op": "add", "path": f"{F}/x", "value": "a/z"}), JSON_PATCH, 422),
    Case("remove-at-len", "PATCH", CM, _jp({"op": "remove", "path": f"{F}/2"}), JSON_PATCH, 422),
    Case("remove-minus-one", "PATCH", CM, _jp({"op": "remove", "path": f"{F}/-1"}), JSON_PATCH, 200),
    Case("remove-too-negative", "PATCH", CM, _jp({"op": "remove", "path": f"{F}/-3"}), JSON_PATCH, 422),
    Case("remove-missing-key", "PATCH", CM, _jp({"op": "remove", "path": "/data/nope"}), JSON_PATCH, 422),
    Case("replace-at-len", "PATCH", CM, _jp({"op": "replace", "path": f"{F}/2", "value": "a/z"}), JSON_PATCH, 422),
    Case("replace-minus-one", "PATCH", CM, _jp({"op": "replace", "path": f"{F}/-1", "value": "a/z"}),
         JSON_PATCH, 200),
    Case("replace-missing-key-adds-it", "PATCH", CM, _jp({"op": "replace", "path": "/data/nope", "value": "z"}),
         JSON_PATCH, 200),
    Case("test-fails", "PATCH", CM, _jp({"op": "test", "path": "/data/a", "value": "nope"}), JSON_PATCH, 422),
    Case("test-number-is-not-a-string", "PATCH", CM, _jp({"op": "test", "path": "/data/a", "value": 1}),
         JSON_PATCH, 422),
    Case("test-missing-key-is-null", "PATCH", CM, _jp({"op": "test", "path": "/data/nope", "value": None}),
         JSON_PATCH, 200),
    Case("test-past-the-end", "PATCH", CM, _jp({"op": "test", "path": f"{F}/5", "value": "a"}), JSON_PATCH, 422),
    Case("test-then-replace", "PATCH", CM, _jp({"op": "test", "path": "/data/a", "value": "x"},
                                               {"op": "replace", "path": "/data/a", "value": "y"}),
         JSON_PATCH, 200),
    Case("move-from-missing", "PATCH", CM, _jp({"op": "move", "from": "/data/nope", "path": "/data/b"}),
         JSON_PATCH, 422),
    Case("move", "PATCH", CM, _jp({"op": "move", "from": "/data/a", "path": "/data/b"}), JSON_PATCH, 200),
    Case("copy-from-missing-is-empty", "PATCH", CM, _jp({"op": "copy", "from": "/data/nope", "path": "/data/b"}),
         JSON_PATCH, 200),
    Case("unknown-op", "PATCH", CM, _jp({"op": "frob", "path": "/data/b", "value": "z"}), JSON_PATCH, 422),
    Case("no-op-field", "PATCH", CM, _jp({"path": "/data/b", "value": "z"}), JSON_PATCH, 422),
    Case("no-path-field", "PATCH", CM, _jp({"op": "add", "value": "z"}), JSON_PATCH, 422),
    Case("empty-path", "PATCH", CM, _jp({"op": "add", "path": "", "value": "z"}), JSON_PATCH, 422),
    Case("missing-parent", "PATCH", CM, _jp({"op": "add", "path": "/nope/x", "value": "z"}), JSON_PATCH, 422),
    Case("no-leading-slash-names-a-dropped-top-level-key", "PATCH", CM,
         _jp({"op": "add", "path": "data/b", "value": "z"}), JSON_PATCH, 200),
    Case("escaped-slash-key-is-an-invalid-config-key", "PATCH", CM,
         _jp({"op": "add", "path": "/data/a~1b", "value": "z"}), JSON_PATCH, 422),
    Case("empty-list", "PATCH", CM, b"[]", JSON_PATCH, 200),
    Case("null-list", "PATCH", CM, b"null", JSON_PATCH, 200),
    Case("null-op", "PATCH", CM, b"[null]", JSON_PATCH, 422),
    Case("not-json", "PATCH", CM, b"notjson{", JSON_PATCH, 400),
    Case("empty-body", "PATCH", CM, b"", JSON_PATCH, 400),
    Case("object-not-list", "PATCH", CM, b'{"op":"add","path":"/data/b","value":"z"}', JSON_PATCH, 400),
    Case("number-op", "PATCH", CM, b"[1]", JSON_PATCH, 400),
    Case("string-op", "PATCH", CM, b'["x"]', JSON_PATCH, 400),
    Case("op-field-number", "PATCH", CM, b'[{"op":5}]', JSON_PATCH, 400),
    Case("path-field-number", "PATCH", CM, b'[{"op":"add","path":5}]', JSON_PATCH, 400),
    Case("not-json-before-not-found", "PATCH", "configmaps/nope", b"notjson{", JSON_PATCH, 400),
    Case("bad-op-after-not-found", "PATCH", "configmaps/nope", b"[1]", JSON_PATCH, 404),
    Case("merge-not-json", "PATCH", CM, b"notjson{", MERGE, 400),
    Case("merge-list", "PATCH", CM, b"[]", MERGE, 400),
    Case("merge-string", "PATCH", CM, b'"x"', MERGE, 400),
    Case("merge-null", "PATCH", CM, b"null", MERGE, 400),
    Case("merge-removes-with-null", "PATCH", CM, b'{"data":{"a":null,"c":"z"}}', MERGE, 200),
    Case("strategic-not-json", "PATCH", CM, b"notjson{", STRATEGIC, 400),
    Case("plain-json-is-not-a-patch-type", "PATCH", CM, b"{}", JSON, 415),
    Case("text-is-not-a-patch-type", "PATCH", CM, b"{}", "text/plain", 415),
]

STATUS_CASES = [
    Case("get-missing-configmap", "GET", "configmaps/nope", None, JSON, 404),
    Case("get-missing-pod", "GET", "pods/nope", None, JSON, 404),
    Case("get-missing-namespace", "GET", "/api/v1/namespaces/parity-nope", None, JSON, 404),
    Case("get-in-missing-namespace", "GET", "/api/v1/namespaces/parity-nope/configmaps/x", None, JSON, 404),
    Case("delete-missing-pod", "DELETE", "pods/nope", None, JSON, 404),
    Case("delete-missing-configmap", "DELETE", "configmaps/nope", None, JSON, 404),
    Case("patch-missing-pod", "PATCH", "pods/nope", b"{}", MERGE, 404),
    Case("put-missing-configmap", "PUT", "configmaps/nope", _obj("ConfigMap", "nope"), JSON, 404),
    Case("create-existing-configmap", "POST", "configmaps", _obj("ConfigMap", "cm"), JSON, 409),
    Case("create-in-missing-namespace", "POST", "/api/v1/namespaces/parity-nope/configmaps",
         _obj("ConfigMap", "cm"), JSON, 404),
    Case("put-stale-resource-version", "PUT", CM,
         orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "cm", "resourceVersion": "1"}}), JSON, 409),
    Case("create-bad-name", "POST", "configmaps", _obj("ConfigMap", "Bad_Name"), JSON, 422),
    Case("create-without-name", "POST", "configmaps", b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}',
         JSON, 422),
    Case("create-bad-config-key", "POST", "configmaps", _obj("ConfigMap", "k", data={"a/b": "x"}), JSON, 422),
    Case("create-bad-namespace-name", "POST", "/api/v1/namespaces", _obj("Namespace", "Bad.ns"), JSON, 422),
    Case("create-pod-without-containers", "POST", "pods", _obj("Pod", "p", spec={"containers": []}), JSON, 422),
    Case("unknown-resource", "GET", "frobs/x", None, JSON, 404),
    Case("unknown-path", "GET", "/api/v1/nope", None, JSON, 404),
    Case("data-over-one-mebibyte", "POST", "configmaps", _obj("ConfigMap", "big", data={"a": "x" * (2 << 20)}),
         JSON, 422),
    Case("body-over-three-mebibytes", "POST", "configmaps",
         _obj("ConfigMap", "huge", data={"a": "x" * (4 << 20)}), JSON, 413),
    Case("create-from-a-list", "POST", "configmaps", b"[1]", JSON, 400),
    Case("create-from-a-long-string", "POST", "configmaps", b'"' + b"x" * 100 + b'"', JSON, 400),
    Case("create-from-a-number", "POST", "configmaps", b"12", JSON, 400),
    Case("create-from-null-is-an-empty-object", "POST", "configmaps", b"null", JSON, 422),
    Case("create-another-core-kind", "POST", "configmaps", _obj("Secret", "s"), JSON, 400),
    Case("create-an-unknown-kind", "POST", "configmaps", _obj("Frob", "f"), JSON, 400),
    Case("create-from-another-group", "POST", "configmaps",
         b'{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"g"}}', JSON, 400),
    Case("put-another-name", "PUT", CM, _obj("ConfigMap", "other"), JSON, 400),
    Case("put-another-name-on-a-missing-one", "PUT", "configmaps/nope", _obj("ConfigMap", "other"), JSON, 400),
    Case("put-another-kind", "PUT", CM, _obj("Secret", "cm"), JSON, 400),
    Case("delete-missing-namespace", "DELETE", "/api/v1/namespaces/parity-nope", None, JSON, 404),
    Case("log-of-missing-pod", "GET", "pods/nope/log", None, JSON, 404),
    Case("exec-in-missing-pod", "POST", "pods/nope/exec?command=true", None, JSON, 404),
    Case("status-of-missing-pod", "GET", "pods/nope/status", None, JSON, 404),
    Case("list-in-missing-namespace", "GET", "/api/v1/namespaces/parity-nope/pods", None, JSON, 200),
]


def _path(case: Case, namespace: str) -> str:
    return case.path if case.path.startswith("/") else f"/api/v1/namespaces/{namespace}/{case.path}"


def _compare(pair: Pair, case: Case, headers: dict[str, str] | None = None) -> None:
    path = _path(case, pair.namespace)
    real = pair.real.request(case.method, path, case.body, case.ctype, headers)
    fake = pair.fake.request(case.method, path, case.body, case.ctype)
    assert real[0] == case.status, f"the real server changed its answer: {real}"
    assert (fake[0], _comparable(fake[1])) == (real[0], _comparable(real[1]))


@pytest.mark.parametrize("case", PATCH_CASES, ids=[c.test_id for c in PATCH_CASES])
def test_patch_answers_as_the_real_server(pair: Pair, case: Case) -> None:
    _reset(pair)
    _compare(pair, case)


@pytest.mark.parametrize("case", STATUS_CASES, ids=[c.test_id for c in STATUS_CASES])
def test_error_status_has_the_real_shape(pair: Pair, case: Case) -> None:
    _compare(pair, case)


TERMINATING = [
    Case("create-named-configmap", "POST", "configmaps", _obj("ConfigMap", "new"), JSON, 403),
    Case("create-unnamed-configmap", "POST", "configmaps", b'{"apiVersion":"v1","kind":"ConfigMap"}', JSON, 403),
    Case("create-pod", "POST", "pods", _obj("Pod", "p", spec={"containers": [{"name": "c", "image": "i"}]}),
         JSON, 403),
]


@pytest.fixture(scope="module")
def terminating(pair: Pair) -> Iterator[str]:
    """A namespace being deleted on both servers: the real one held by a configmap's finalizer,
    the offline one marked Terminating in its store."""
    ns = f"parity-term-{uuid.uuid4().hex[:6]}"
    real, store = pair.real, pair.fake_kube.store
    assert real.request("POST", "/api/v1/namespaces", _obj("Namespace", ns))[0] == 201
    held = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "held", "finalizers": ["parity.test/hold"]}})
    assert real.request("POST", f"/api/v1/namespaces/{ns}/configmaps", held)[0] == 201
    assert real.request("DELETE", f"/api/v1/namespaces/{ns}")[0] == 200
    pair.fake_kube.create_namespace(ns)
    with store.lock:
        obj = store.get("namespaces", "", ns)
        obj["status"]["phase"] = "Terminating"
        store.replace("namespaces", "", obj)
    try:
        yield ns
    finally:
        real.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/held", b'{"metadata":{"finalizers":null}}',
                     MERGE)
        store.delete("namespaces", "", ns)


@pytest.mark.parametrize("case", TERMINATING, ids=[c.test_id for c in TERMINATING])
def test_create_in_a_terminating_namespace_has_the_real_shape(pair: Pair, terminating: str, case: Case) -> None:
    _compare(pair._replace(namespace=terminating), case)


class Denied(NamedTuple):
    test_id: str
    verb: str
    resource: str
    case: Case


DENIED = [
    Denied("get-configmap", "get", "configmaps", Case("", "GET", CM, None, JSON, 403)),
    Denied("list-configmaps", "list", "configmaps", Case("", "GET", "configmaps", None, JSON, 403)),
    Denied("create-pod", "create", "pods", Case("", "POST", "pods", _obj("Pod", "p"), JSON, 403)),
    Denied("delete-pod", "delete", "pods", Case("", "DELETE", "pods/p", None, JSON, 403)),
    Denied("patch-namespace", "patch", "namespaces",
           Case("", "PATCH", "/api/v1/namespaces/parity-x", b"{}", MERGE, 403)),
    Denied("exec", "create", "pods/exec", Case("", "POST", "pods/p/exec?command=true", None, JSON, 403)),
]


@pytest.mark.parametrize("denied", DENIED, ids=[d.test_id for d in DENIED])
def test_rbac_refusal_has_the_real_shape(pair: Pair, denied: Denied) -> None:
    """The real server refuses an identity without a role (the admin impersonating one); the
    offline one a `deny` fault: the same Status but for the user's name."""
    ns = pair.namespace if denied.resource != "namespaces" else ""
    pair.fake_kube.deny(denied.verb, denied.resource, namespace=ns, times=1)
    try:
        _compare(pair, denied.case, {"Impersonate-User": "parity-nobody"})
    finally:
        pair.fake_kube.faults.clear()


class Head(NamedTuple):
    test_id: str
    request: bytes
    status_line: bytes


HEAD_CASES = [
    Head("url-of-70-kib", b"GET /api/v1/namespaces?x=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: h\r\n"
         b"Connection: close\r\n\r\n", b"HTTP/1.1 200 OK"),
    Head("url-over-one-mebibyte", b"GET /api/v1/namespaces?x=" + b"a" * 1_100_000 + b" HTTP/1.1\r\nHost: h\r\n"
         b"Connection: close\r\n\r\n", b"HTTP/1.1 431 Request Header Fields Too Large"),
    Head("header-of-70-kib", b"GET /api/v1/namespaces/default HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
         b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n", b"HTTP/1.1 200 OK"),
    Head("headers-over-one-mebibyte", b"GET /api/v1/namespaces/default HTTP/1.1\r\nHost: h\r\n"
         b"Connection: close\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 9000) for i in range(120)) + b"\r\n",
         b"HTTP/1.1 431 Request Header Fields Too Large"),
    Head("two-hundred-headers", b"GET /api/v1/namespaces/default HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
         + b"".join(b"X-H%d: a\r\n" % i for i in range(200)) + b"\r\n", b"HTTP/1.1 200 OK"),
]


@pytest.mark.parametrize("head", HEAD_CASES, ids=[h.test_id for h in HEAD_CASES])
def test_request_head_limits_are_the_real_ones(pair: Pair, head: Head) -> None:
    """Go's net/http: 1 MiB (+4 KiB) for the request line and headers together, no limit
    per line or on the count; over it a bare text/plain 431 (Python's own server: 414 past a
    64 KiB line, 431 past a 64 KiB header or 100 headers, with an HTML page)."""
    real, fake = pair.real.raw(head.request), pair.fake.raw(head.request)
    assert real.split(b"\r\n", 1)[0] == head.status_line
    assert fake.split(b"\r\n", 1)[0] == head.status_line
    if head.status_line.endswith(b"Too Large"):
        assert fake == real
