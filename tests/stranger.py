"""Another local user's attempts on the offline API server (run with `runuser -u USER --
/usr/bin/python3 stranger.py`, stdlib only: the user can read nothing of ours).

Reads a JSON plan on stdin: {"attempts": [{"name", "url", "method", "path", "body",
"token", "websocket"} or {"name", "unix", "send"}...], "kubeconfig": path}. Prints one
JSON object: for each HTTP attempt its status code and body (for a WebSocket upgrade the
body after a 101), for a unix socket attempt what came back to `send` (hex) or the error,
and whether the kubeconfig could be read. An HTTPS server's certificate is not checked: a stranger
cannot read the CA (it is in the server's private directory) and would not care.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import sys
from typing import Any
from urllib.parse import urlsplit


def _connect(url: str) -> tuple[socket.socket, str]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sock = socket.create_connection((host, port), timeout=30)
    if parts.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=host)
    return sock, f"{host}:{port}"


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def rest(a: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(a["url"])
    ctx = ssl._create_unverified_context() if parts.scheme == "https" else None
    conn: http.client.HTTPConnection = (
        http.client.HTTPSConnection(parts.hostname or "", parts.port, context=ctx, timeout=30)
        if ctx else http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30))
    body = json.dumps(a["body"]).encode() if a.get("body") is not None else None
    try:
        conn.request(a["method"], a["path"], body=body,
                     headers={"Content-Type": "application/json", **_headers(a.get("token"))})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return {"status": resp.status, "body": parsed}


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def _finished(frames: bytes) -> bool:
    """Whether the server's frames so far hold the exec's status (channel 3) or a close."""
    while len(frames) >= 2:
        opcode, n, at = frames[0] & 0x0F, frames[1] & 0x7F, 2
        if n == 126:
            n, at = int.from_bytes(frames[2:4], "big"), 4
        elif n == 127:
            n, at = int.from_bytes(frames[2:10], "big"), 10
        if len(frames) < at + n:
            return False
        payload = frames[at:at + n]
        if opcode == 8 or (opcode == 2 and payload[:1] == b"\x03"):
            return True
        frames = frames[at + n:]
    return False


def websocket(a: dict[str, Any]) -> dict[str, Any]:
    """An exec upgrade; on 101 the stream is read to its end (the command has finished)."""
    sock, host = _connect(a["url"])
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {a['path']} HTTP/1.1", f"Host: {host}", "Connection: Upgrade",
             "Upgrade: websocket", "Sec-WebSocket-Version: 13", f"Sec-WebSocket-Key: {key}",
             "Sec-WebSocket-Protocol: v5.channel.k8s.io",
             *(f"{k}: {v}" for k, v in _headers(a.get("token")).items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
            head, sep, rest_ = got.partition(b"\r\n\r\n")
            if sep and not head.startswith(b"HTTP/1.1 101"):  # a plain answer: its body
                length = _content_length(head)
                if length is not None and len(rest_) >= length:
                    break
            if sep and head.startswith(b"HTTP/1.1 101") and _finished(rest_):
                break
    except OSError:
        pass
    finally:
        sock.close()
    head, _, rest_ = got.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    body: Any = rest_.decode("utf-8", "replace")
    if status != 101:
        try:
            body = json.loads(rest_)
        except ValueError:
            pass
    return {"status": status, "body": body}


def unix(a: dict[str, Any]) -> dict[str, Any]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    try:
        sock.connect(a["unix"])
        sock.sendall(bytes.fromhex(a["send"]))
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
        return {"got": got.hex()}
    except OSError as e:
        return {"error": type(e).__name__}
    finally:
        sock.close()


def main() -> int:
    plan = json.load(sys.stdin)
    out: dict[str, Any] = {"uid": os.getuid(), "attempts": {}}
    for a in plan["attempts"]:
        how = unix if "unix" in a else websocket if a.get("websocket") else rest
        out["attempts"][a["name"]] = how(a)
    try:
        if plan.get("kubeconfig"):
            with open(plan["kubeconfig"], "rb") as f:
                f.read()
            out["kubeconfig"] = "read"
    except PermissionError:
        out["kubeconfig"] = "permission denied"
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
