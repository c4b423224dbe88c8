"""A minimal RFC 6455 WebSocket server side: handshake, framing, close.

Only what the Kubernetes channel protocols need: no extensions, no
compression. Client frames are masked, ours are not.
"""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import struct
import threading
from typing import BinaryIO

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


def accept_key(client_key: str) -> str:
    digest = hashlib.sha1(client_key.strip().encode("ascii") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


class ConnectionClosed(Exception):
    """The peer closed the connection (close frame or EOF)."""


class WebSocket:
    """One upgraded connection. Sends are serialized; reads belong to one thread."""

    def __init__(self, rfile: BinaryIO | io.BufferedIOBase, sock: socket.socket) -> None:
        self._rfile = rfile
        self._sock = sock
        self._send_lock = threading.Lock()
        self.closed = False

    def _read_exact(self, n: int) -> bytes:
        data = self._rfile.read(n)
        if data is None or len(data) < n:
            raise ConnectionClosed()
        return data

    def _read_frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self._read_exact(2)
        fin = bool(b0 & 0x80)
        opcode = b0 & 0x0F
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exact(8))
        mask = self._read_exact(4) if b1 & 0x80 else b""
        payload = self._read_exact(length) if length else b""
        if mask:
            payload = _unmask(payload, mask)
        return fin, opcode, payload

    def receive(self) -> tuple[int, bytes]:
        """Next data message as (opcode, payload); answers pings; raises on close."""
        parts: list[bytes] = []
        first_opcode = OP_BINARY
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == OP_PING:
                self.send(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                self.close()
                raise ConnectionClosed()
            if opcode != OP_CONT:
                first_opcode = opcode
            parts.append(payload)
            if fin:
                return first_opcode, b"".join(parts)

    def send(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        with self._send_lock:
            if self.closed and opcode != OP_CLOSE:
                raise ConnectionClosed()
            try:
                self._sock.sendall(header + payload)
            except OSError as e:
                self.closed = True
                raise ConnectionClosed() from e

    def send_binary(self, payload: bytes) -> None:
        self.send(OP_BINARY, payload)

    def close(self, code: int = 1000) -> None:
        if self.closed:
            return
        try:
            self.send(OP_CLOSE, struct.pack("!H", code))
        except ConnectionClosed:
            pass
        self.closed = True


def _unmask(payload: bytes, mask: bytes) -> bytes:
    # XOR via big ints: far faster than a per-byte loop for large stdin payloads.
    n = len(payload)
    repeated = (mask * (n // 4 + 1))[:n]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(n, "big")
