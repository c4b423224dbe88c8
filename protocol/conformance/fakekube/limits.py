"""The real API server's request-size limits, so a client that works offline is not
surprised by a cluster (and the other way round).

kube-apiserver is Go's net/http with ``MaxHeaderBytes`` = 1 MiB: the request line and all
header lines together may take 1 MiB plus 4 KiB of read-buffer slack; no single line and
no header count has a limit of its own (Python's http.server caps a line at 64 KiB and
headers at 100). Over the limit Go answers a bare text/plain 431 and closes. A body
(create, update, patch) may be 3 MiB: over it, a 413 Status.
"""

from __future__ import annotations

import io
import socket

from protocol.conformance.fakekube.errors import ApiError

#: Go's http.DefaultMaxHeaderBytes plus the 4096 bytes of bufio slack it allows.
MAX_HEAD_BYTES = (1 << 20) + 4096
#: kube-apiserver's --max-request-bytes default for a request body.
MAX_BODY_BYTES = 3 * 1024 * 1024

#: Go's answer, byte for byte: no Date, no Content-Length, the connection closes.
HEAD_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                  b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
                  b"431 Request Header Fields Too Large")


class HeadTooLarge(Exception):
    """The request line and headers passed MAX_HEAD_BYTES."""


def read_head(rfile: io.BufferedIOBase) -> list[bytes]:
    """The request line and header lines up to (not including) the blank line; [] at EOF."""
    lines: list[bytes] = []
    left = MAX_HEAD_BYTES
    while True:
        line = rfile.readline(left + 1)
        if not line:
            return []  # the client closed (between requests, or mid-head)
        left -= len(line)
        if left < 0 or not line.endswith(b"\n"):
            raise HeadTooLarge
        if line in (b"\r\n", b"\n") and lines:
            return lines
        lines.append(line)


def refuse_head(sock: socket.socket, wfile: io.BufferedIOBase, rfile: io.BufferedIOBase) -> None:
    """Answer 431 and let the client read it: half-close, then discard what it still sends
    (closing with unread bytes would reset the connection before the answer arrives)."""
    try:
        wfile.write(HEAD_TOO_LARGE)
        wfile.flush()
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(2.0)
        while rfile.read1(65536):
            pass
    except OSError:
        pass


def check_body_size(length: int, rfile: io.BufferedIOBase) -> None:
    """413 for a body over MAX_BODY_BYTES, read and dropped first so the connection stays usable."""
    if length <= MAX_BODY_BYTES:
        return
    left = length
    while left > 0:
        chunk = rfile.read(min(left, 1 << 16))
        if not chunk:
            break
        left -= len(chunk)
    raise ApiError(413, f"Request entity too large: limit is {MAX_BODY_BYTES}", reason="RequestEntityTooLarge")
