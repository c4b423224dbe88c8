"""One connection to the API server: `_socket` + `_ssl`, the C modules under `socket`/`ssl`.

`import ssl` costs ~15-25 ms here and pulls in `enum`, `re`, `socket` and `selectors`;
the C layer needs none of it and does the same verification (hostname and IP-address
checks happen in OpenSSL, set up by `_wrap_socket`). If a Python ever drops the private
names we use, `available()` is False and the caller falls back to kubectl.

Inline client keys never touch the disk: they go to an anonymous memory file (memfd)
that OpenSSL reads through ``/proc/self/fd/N`` and that is closed right after.
"""

from __future__ import annotations

import _socket
import _ssl
import os

from providers.kube.transport import Fallback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.transport.target import Target


def available() -> bool:
    return hasattr(_ssl, "_SSLContext") and hasattr(_ssl._SSLContext, "_wrap_socket")


class Socket(_socket.socket):
    """`_socket.socket` plus a weak-reference slot, which the SSL object needs."""

    __slots__ = ("__weakref__",)


class TLSRefused(Exception):
    """The TLS handshake failed (untrusted certificate, wrong name, protocol error)."""

    def __init__(self, message: str, *, verify: bool = False) -> None:
        super().__init__(message)
        self.verify = verify  # the server's certificate was refused: retrying cannot help


def _memfd_path(name: str, data: bytes) -> tuple[int, str]:
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        raise Fallback("inline client certificate/key needs memfd (Linux)")
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return fd, f"/proc/self/fd/{fd}"


def context(t: Target) -> object:
    """The target's SSL context, built once per target (the helper reuses it for every op)."""
    if t.ssl_context is not None:
        return t.ssl_context
    if not available():
        raise Fallback("this Python lacks the _ssl context API")
    ctx = _ssl._SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    if t.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = _ssl.CERT_NONE
    elif t.ca_data:
        try:
            ctx.load_verify_locations(None, None, t.ca_data)
        except OSError as error:
            raise Fallback(f"certificate-authority-data unusable: {error}") from None
    elif t.ca_file:
        try:
            ctx.load_verify_locations(t.ca_file)
        except OSError as error:
            raise Fallback(f"certificate-authority {t.ca_file} unusable: {error}") from None
    elif t.env.get("SSL_CERT_FILE") or t.env.get("SSL_CERT_DIR"):
        # The caller's trust store, as Go's kubectl reads it (in the helper, the process's
        # own environment is another caller's).
        try:
            ctx.load_verify_locations(t.env.get("SSL_CERT_FILE") or None,
                                      t.env.get("SSL_CERT_DIR") or None)
        except OSError as error:
            raise Fallback(f"SSL_CERT_FILE/SSL_CERT_DIR unusable: {error}") from None
    else:
        ctx.set_default_verify_paths()
    fds: list[int] = []
    try:
        cert, key = t.cert_file, t.key_file
        if t.cert_data:
            fd, cert = _memfd_path("kube-client-cert", t.cert_data)
            fds.append(fd)
        if t.key_data:
            fd, key = _memfd_path("kube-client-key", t.key_data)
            fds.append(fd)
        if cert:
            try:
                ctx.load_cert_chain(cert, key or None)
            except OSError as error:
                raise Fallback(f"client certificate/key unusable: {error}") from None
    finally:
        for fd in fds:
            os.close(fd)
    t.ssl_context = ctx
    return ctx


class Conn:
    """A connected (and, for https, handshaken) stream to the server."""

    __slots__ = ("opened", "sock", "tls")

    def __init__(self, sock: Socket, tls: object | None, opened: float) -> None:
        self.sock = sock  # kept alive: the SSL object only holds a weak reference to it
        self.tls = tls
        self.opened = opened

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def send(self, data: bytes) -> None:
        if self.tls is None:
            self.sock.sendall(data)
            return
        view = memoryview(data)
        while view:
            view = view[self.tls.write(view):]  # type: ignore[attr-defined]

    def recv(self, n: int = 65536) -> bytes:
        if self.tls is None:
            return bytes(self.sock.recv(n))
        try:
            return bytes(self.tls.read(n))  # type: ignore[attr-defined]
        except (_ssl.SSLZeroReturnError, _ssl.SSLEOFError):
            return b""

    def quiet(self) -> bool:
        """Neither closed by the server nor sent anything on since (an idle one's check)."""
        import select

        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        return not poller.poll(0)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def connect(t: Target, timeout: float | None) -> Conn:
    """Open a connection; `OSError` when unreachable, `TLSRefused` when TLS fails."""
    import time

    ctx = context(t) if t.secure else None
    last: OSError | None = None
    # An ASCII host as bytes: a str would load the idna codec, and with it `re` (~10 ms).
    host: str | bytes = t.host.encode("ascii") if t.host.isascii() else t.host
    for family, kind, proto, _name, addr in _socket.getaddrinfo(host, t.port, 0,
                                                                _socket.SOCK_STREAM):
        sock = Socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(addr)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError as error:
            sock.close()
            last = error
            continue
        if ctx is None:
            return Conn(sock, None, time.monotonic())
        try:
            tls = ctx._wrap_socket(sock, False, t.server_name)  # type: ignore[attr-defined]
            tls.do_handshake()
        except _ssl.SSLError as error:
            sock.close()
            raise TLSRefused(str(error), verify=isinstance(error, _ssl.SSLCertVerificationError)) from None
        except OSError:
            sock.close()
            raise
        return Conn(sock, tls, time.monotonic())
    raise last or OSError(f"no address for {t.host}")
