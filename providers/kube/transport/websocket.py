"""The exec subresource as a client speaks it: an HTTP/1.1 upgrade to WebSocket with the
``v5.channel.k8s.io`` subprotocol, then channel-tagged binary messages.

Channels: 0 stdin, 1 stdout, 2 stderr, 3 status (a JSON ``Status`` sent once at the end),
4 resize; v5 adds ``0xFF <channel>`` to close a stream (we close stdin with it). An op
without stdin also offers v4 (identical but for that close message), so a server that
predates v5 still serves every read; one that must see stdin end needs v5 (`Fallback`).
"""

from __future__ import annotations

import binascii
import os

from providers.kube.transport.interface import Fallback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.transport.tls import Conn

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
STDIN, STDOUT, STDERR, STATUS, CLOSE = 0, 1, 2, 3, 255
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CHUNK = 32 * 1024


class HttpError(Exception):
    """The server answered the upgrade with an HTTP status (the command never started)."""

    def __init__(self, code: int, body: bytes) -> None:
        super().__init__(f"HTTP {code}")
        self.code = code
        self.body = body


class StreamLost(Exception):
    """The stream ended before the status: the command may or may not have run."""


class NoResponse(StreamLost):
    """The connection closed before any byte of a response (an idle connection the server
    had already dropped): the request was never served."""


class StatusFailure(Exception):
    """The status channel reported a failure that is not the command's exit code."""


def quote(text: str) -> str:
    """Percent-encode for a query value or path segment (RFC 3986 unreserved kept)."""
    safe = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in text.encode())


def exec_path(prefix: str, namespace: str, pod: str, container: str, argv: list[str],
              stdin: bool) -> str:
    query = [f"command={quote(a)}" for a in argv]
    if container:
        query.append(f"container={quote(container)}")
    if stdin:
        query.append("stdin=true")
    query += ["stdout=true", "stderr=true"]
    return (f"{prefix}/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/exec?"
            + "&".join(query))


class Reader:
    """Buffered reads from a `Conn` (headers, then frames)."""

    __slots__ = ("buf", "conn")

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.buf = bytearray()

    def fill(self) -> bool:
        data = self.conn.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self.fill():
                raise StreamLost("connection closed mid-frame")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def head(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                out = bytes(self.buf[:end])
                del self.buf[:end + 4]
                return out
            if len(self.buf) > 65536:
                raise StreamLost("HTTP response head too long")
            if not self.fill():
                if not self.buf:
                    raise NoResponse("the server closed the connection without a response")
                raise StreamLost("no complete HTTP response from the server")

    def rest(self, length: int | None, until: bytes = b"") -> bytes:
        """``length`` bytes, or up to ``until`` (chunked), or to EOF."""
        while length is None or len(self.buf) < length:
            if until and (self.buf.endswith(until) or self.buf.startswith(until[2:])):
                break
            if not self.fill():
                break
        return bytes(self.buf if length is None else self.buf[:length])


def frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (RFC 6455 requires clients to mask)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    if n:
        repeated = (mask * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")
    return head + mask + payload


def upgrade(conn: Conn, reader: Reader, *, host: str, path: str, token: str,
            stdin: bool) -> str:
    """Send the upgrade request; return the agreed subprotocol or raise `HttpError`."""
    key = binascii.b2a_base64(os.urandom(16), newline=False)
    offered = V5 if stdin else f"{V5},{V4}"
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "User-Agent: gc-session-k8s/direct",
             "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key.decode()}",
             "Sec-WebSocket-Version: 13", f"Sec-WebSocket-Protocol: {offered}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    try:
        conn.send(("\r\n".join(lines) + "\r\n\r\n").encode())
    except OSError as error:  # a dropped idle connection: nothing was served
        raise NoResponse(f"sending the request failed: {error}") from None
    head = reader.head().decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise StreamLost(f"bad HTTP status line {head[0][:80]!r}")
    code = int(parts[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if code != 101:
        length = headers.get("content-length", "")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if chunked:
            body = dechunk(reader.rest(None, until=b"\r\n0\r\n\r\n"))
        else:
            body = reader.rest(int(length) if length.isdigit() else None)
        raise HttpError(code, body)
    if headers.get("sec-websocket-accept", "").encode() != accept_for(key):
        raise StreamLost("the server's WebSocket accept key does not match")
    proto = headers.get("sec-websocket-protocol", "")
    if proto not in (V5, V4) or (stdin and proto != V5):
        # Upgraded without a protocol we speak: the command may be running; not a fallback.
        raise StreamLost(f"the server chose exec subprotocol {proto or 'none'!r}")
    return proto


def dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, body = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2:]
    return bytes(out)


def accept_for(key: bytes) -> bytes:
    from hashlib import sha1

    return binascii.b2a_base64(sha1(key + _GUID).digest(), newline=False)


def run_stream(conn: Conn, reader: Reader, proto: str, stdin: bytes | None,
               deadline: float | None) -> tuple[int, bytes, bytes]:
    """Feed stdin, collect stdout/stderr until the status; (exit code, out, err)."""
    import time

    if stdin is not None:
        send_stdin(conn, stdin)
        if proto == V5:
            conn.send(frame(0x2, bytes((CLOSE, STDIN))))
    out = bytearray()
    err = bytearray()
    status: bytes | None = None
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("exec ran out of time")
            conn.settimeout(left)
        try:
            got = read_message(conn, reader)
        except StreamLost:
            break
        if got is None:  # close
            break
        channel, data = got
        if channel == STDOUT:
            out += data
        elif channel == STDERR:
            err += data
        elif channel == STATUS:
            status = data
    if status is None:
        raise StreamLost("the stream ended before the command's status")
    return exit_code(status), bytes(out), bytes(err)


def send_stdin(conn: Conn, data: bytes) -> None:
    """``data`` on the stdin channel, in messages of at most `_CHUNK` bytes."""
    for at in range(0, len(data), _CHUNK):
        conn.send(frame(0x2, bytes((STDIN,)) + data[at:at + _CHUNK]))


def read_message(conn: Conn, reader: Reader) -> tuple[int, bytes] | None:
    """The next channel message (channel, data); None: the server closed the stream.

    Pings are answered and control or empty frames skipped on the way.
    """
    while True:
        b0, b1 = reader.exact(2)
        opcode = b0 & 0x0F
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(reader.exact(2), "big")
        elif n == 127:
            n = int.from_bytes(reader.exact(8), "big")
        payload = reader.exact(n) if n else b""  # server frames are never masked
        if opcode == 0x8:  # close
            return None
        if opcode == 0x9:  # ping
            conn.send(frame(0xA, payload))
        elif opcode in (0x0, 0x1, 0x2) and payload:
            return payload[0], payload[1:]


def exit_code(status: bytes) -> int:
    import json

    try:
        obj = json.loads(status)
    except ValueError:
        raise StatusFailure("unreadable exec status") from None
    if obj.get("status") == "Success":
        return 0
    if obj.get("reason") == "NonZeroExitCode":
        for cause in (obj.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
                return int(cause["message"])
    raise StatusFailure(str(obj.get("message") or "exec failed"))


def refuses_v5(error: HttpError) -> Fallback | None:
    """A 4xx upgrade refusal that says the subprotocol was the problem."""
    text = error.body.decode("utf-8", "replace").lower()
    if error.code in (400, 403, 426) and ("subprotocol" in text or "protocol(s)" in text
                                          or "bad handshake" in text):
        return Fallback("the server does not speak exec v5.channel.k8s.io")
    return None
