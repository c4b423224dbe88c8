"""One connection to the API server: `socket` + `ssl`, as documented.

`import ssl` costs a fresh process ~15-25 ms: the direct transport pays it once per op,
the helper once per life (the executable's quickest path needs no TLS: the helper holds
the connections). Verification is `ssl.SSLContext`'s own (``PROTOCOL_TLS_CLIENT``:
certificate and hostname or IP address checked).

Inline client keys never touch the disk: they go to an anonymous memory file (memfd)
that OpenSSL reads through ``/proc/self/fd/N`` and that is closed right after.
"""

from __future__ import annotations

import os
import socket
import ssl

from providers.kube.transport.interface import Fallback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from providers.kube.transport.target import Target


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


def context(t: Target) -> ssl.SSLContext:
    """The target's SSL context, built once per target (the helper reuses it for every op)."""
    if isinstance(t.ssl_context, ssl.SSLContext):
        return t.ssl_context
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if t.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif t.ca_data:
        try:
            ctx.load_verify_locations(cadata=t.ca_data)
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

    __slots__ = ("opened", "sock")

    def __init__(self, sock: socket.socket, opened: float) -> None:
        self.sock = sock  # an `ssl.SSLSocket` for https
        self.opened = opened

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, n: int = 65536) -> bytes:
        try:
            return self.sock.recv(n)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
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

    def abort(self) -> None:
        """Shut the connection from another thread: a read blocked on it returns, and the
        server sees the stream end (`close` alone would not wake that read)."""
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass


def connect(t: Target, timeout: float | None) -> Conn:
    """Open a connection; `OSError` when unreachable, `TLSRefused` when TLS fails."""
    import time

    ctx = context(t) if t.secure else None
    last: OSError | None = None
    # An ASCII host as bytes: a str would load the idna codec, and with it `re` (~10 ms).
    host: str | bytes = t.host.encode("ascii") if t.host.isascii() else t.host
    for family, kind, proto, _name, addr in socket.getaddrinfo(host, t.port, 0,
                                                               socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(addr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as error:
            sock.close()
            last = error
            continue
        if ctx is None:
            return Conn(sock, time.monotonic())
        try:
            wrapped = ctx.wrap_socket(sock, server_hostname=t.server_name)
        except ssl.SSLError as error:
            sock.close()
            raise TLSRefused(str(error), verify=isinstance(error, ssl.SSLCertVerificationError)) from None
        except OSError:
            sock.close()
            raise
        return Conn(wrapped, time.monotonic())
    raise last or OSError(f"no address for {t.host}")
