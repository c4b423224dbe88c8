"""HTTPS for the fake API server: a throwaway CA, and a TLS terminator in front of
the plain HTTP listener.

Why a terminator and not `ssl.wrap_socket` on the handler's connection: the exec path
reads an upgraded connection in one thread while other threads write to it (the
WebSocket pumps), and `_hang` polls it with `select`. An OpenSSL SSL object must not be
used by two threads at once (a read and a write on one SSL* race on its record state),
and `select` on an SSL socket misses bytes already decrypted into the SSL buffer
(`pending()`). Serializing every SSL call per connection would put a lock around a
blocking read that the writers then wait on.

So every SSL object lives in one thread: a selectors-based, non-blocking loop accepts
TLS, does the handshake and pumps bytes both ways between each TLS connection and its
own loopback TCP connection to the unchanged plain server. The loop handles
SSLWantRead/SSLWantWrite in either direction, retries a blocked `send` with the same
bytes (as OpenSSL requires), drains `pending()` by reading until SSLWantRead, bounds
each direction's buffer (back-pressure instead of unbounded memory) and passes
half-closes through (client EOF -> SHUT_WR to the plain side; plain EOF -> close_notify
after the buffered reply is flushed). TCP_NODELAY is set on both sockets, as the plain
handler sets it on its side.
"""

from __future__ import annotations

import base64
import os
import selectors
import shutil
import socket
import ssl
import subprocess
import threading

_LIMIT = 256 * 1024  # per direction: stop reading a side while this much waits to be sent
_CHUNK = 64 * 1024


class OpenSSLMissing(RuntimeError):
    """The `openssl` CLI needed to make the throwaway CA is not installed."""


_SERVER_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def make_certs(directory: str) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1 + localhost, made with the
    `openssl` CLI in `directory`. Returns (ca.crt, server.crt, server.key) paths; the CA
    key is deleted once the server certificate is signed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise OpenSSLMissing("fakekube: TLS needs the `openssl` command, which is not on PATH")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    p = {n: os.path.join(directory, n) for n in
         ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt", "server.ext")}
    with open(p["server.ext"], "w") as f:
        f.write(_SERVER_EXT)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        ["req", "-x509", *ec, "-keyout", p["ca.key"], "-out", p["ca.crt"], "-days", "7",
         "-subj", "/CN=fakekube throwaway CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-addext", "subjectKeyIdentifier=hash"],
        ["req", *ec, "-keyout", p["server.key"], "-out", p["server.csr"], "-subj", "/CN=fakekube"],
        ["x509", "-req", "-in", p["server.csr"], "-CA", p["ca.crt"], "-CAkey", p["ca.key"],
         "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "7",
         "-extfile", p["server.ext"], "-out", p["server.crt"]],
    ]
    try:
        for args in steps:
            r = subprocess.run([openssl, *args], capture_output=True, text=True, timeout=60,
                               check=False)
            if r.returncode != 0:
                raise RuntimeError(f"fakekube: openssl {args[0]} failed: {r.stderr.strip()}")
    finally:
        for n in ("ca.key", "server.csr", "server.ext"):
            try:
                os.unlink(p[n])
            except FileNotFoundError:
                pass
    return p["ca.crt"], p["server.crt"], p["server.key"]


def ca_data(ca_path: str) -> str:
    """`certificate-authority-data` for a kubeconfig: base64 of the CA PEM."""
    with open(ca_path, "rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def _nodelay(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


class _Conn:
    """One client: its TLS socket and the loopback connection to the plain server."""

    def __init__(self, term: TLSTerminator, tls: ssl.SSLSocket) -> None:
        self.term = term
        self.tls = tls
        self.plain: socket.socket | None = None
        self.handshaken = False
        self.to_plain = bytearray()  # decrypted from the client, for the plain server
        self.to_tls = bytearray()  # from the plain server, to encrypt for the client
        self.tls_retry = 0  # length of a blocked SSL send: retry exactly these bytes
        self.tls_eof = False  # the client sent EOF / close_notify
        self.plain_eof = False  # the plain server closed its side
        self.plain_shut = False  # we passed the client's EOF on (SHUT_WR)
        self.hs_wants_write = False  # the handshake waits for writability (else readability)
        self.recv_wants_write = False  # an SSL read needs the socket writable first
        self.send_wants_read = False  # an SSL write needs the socket readable first
        self.closed = False
        self.masks: dict[socket.socket, int] = {}

    # -- one pass: do everything that can be done without blocking --------------
    def pump(self) -> None:
        try:
            if not self.handshaken and not self._handshake():
                return
            progress = True
            while progress and not self.closed:
                progress = self._tls_to_plain() | self._plain_to_tls()
            if self.closed:
                return
            if self.plain_eof and not self.to_tls:
                self._close_notify()
                self.close()
                return
        except (OSError, ssl.SSLError):
            self.close()
            return
        self._register()

    def _handshake(self) -> bool:
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self.hs_wants_write = False
            self._register()
            return False
        except ssl.SSLWantWriteError:
            self.hs_wants_write = True
            self._register()
            return False
        # Verification failures (a client that refuses our CA) raise ssl.SSLError: pump closes.
        self.handshaken = True
        plain = socket.create_connection(self.term.backend, timeout=10)
        plain.setblocking(False)
        _nodelay(plain)
        self.plain = plain
        return True

    def _tls_to_plain(self) -> bool:
        assert self.plain is not None
        progress = False
        # Client -> buffer: read until SSLWantRead, so nothing stays in the SSL buffer
        # (pending()) unseen by the selector; stop at the limit (read again once drained).
        while not self.tls_eof and len(self.to_plain) < _LIMIT:
            try:
                data = self.tls.recv(_CHUNK)
            except ssl.SSLWantReadError:
                self.recv_wants_write = False
                break
            except ssl.SSLWantWriteError:
                self.recv_wants_write = True
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError, ConnectionResetError):
                data = b""
            self.recv_wants_write = False
            progress = True
            if not data:
                self.tls_eof = True
                break
            self.to_plain += data
        # Buffer -> plain server.
        while self.to_plain and not self.plain_eof:
            try:
                n = self.plain.send(self.to_plain[:_CHUNK])
            except BlockingIOError:
                break
            except (BrokenPipeError, ConnectionResetError):
                self.plain_eof = True
                self.to_plain.clear()
                progress = True
                break
            del self.to_plain[:n]
            progress = True
        if self.tls_eof and not self.to_plain and not self.plain_shut:
            self.plain_shut = True
            try:
                self.plain.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            progress = True
        return progress

    def _plain_to_tls(self) -> bool:
        assert self.plain is not None
        progress = False
        while not self.plain_eof and len(self.to_tls) < _LIMIT:
            try:
                data = self.plain.recv(_CHUNK)
            except BlockingIOError:
                break
            except ConnectionResetError:
                data = b""
            progress = True
            if not data:
                self.plain_eof = True
                break
            self.to_tls += data
        while self.to_tls:
            n = self.tls_retry or min(len(self.to_tls), _CHUNK)
            try:
                sent = self.tls.send(self.to_tls[:n])
            except ssl.SSLWantWriteError:
                self.tls_retry, self.send_wants_read = n, False
                break
            except ssl.SSLWantReadError:
                self.tls_retry, self.send_wants_read = n, True
                break
            self.tls_retry = 0
            self.send_wants_read = False
            del self.to_tls[:sent]
            progress = True
        return progress

    def _close_notify(self) -> None:
        try:
            self.tls.unwrap()  # sends close_notify; the peer's reply is not awaited
        except (OSError, ssl.SSLError, ValueError):
            pass

    # -- selector bookkeeping ---------------------------------------------------
    def _register(self) -> None:
        tls_mask = 0
        if not self.handshaken:
            tls_mask = selectors.EVENT_WRITE if self.hs_wants_write else selectors.EVENT_READ
        else:
            # Each interest only while the operation waiting on it can progress: a level-
            # triggered event nobody consumes would spin the loop.
            reading = not self.tls_eof and len(self.to_plain) < _LIMIT
            if reading or self.send_wants_read:
                tls_mask |= selectors.EVENT_READ
            if (self.to_tls and not self.send_wants_read) or (self.recv_wants_write and reading):
                tls_mask |= selectors.EVENT_WRITE
        self._set(self.tls, tls_mask)
        if self.plain is not None:
            plain_mask = 0
            if not self.plain_eof and len(self.to_tls) < _LIMIT:
                plain_mask |= selectors.EVENT_READ
            if self.to_plain and not self.plain_eof:
                plain_mask |= selectors.EVENT_WRITE
            self._set(self.plain, plain_mask)

    def _set(self, sock: socket.socket, mask: int) -> None:
        old = self.masks.get(sock, 0)
        if mask == old:
            return
        sel = self.term.selector
        if not mask:
            sel.unregister(sock)
        elif not old:
            sel.register(sock, mask, self)
        else:
            sel.modify(sock, mask, self)
        self.masks[sock] = mask

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in (self.tls, self.plain):
            if sock is None:
                continue
            if self.masks.pop(sock, 0):
                try:
                    self.term.selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
            try:
                sock.close()
            except OSError:
                pass
        self.term.conns.discard(self)


class TLSTerminator:
    """HTTPS on `listen`, forwarded as plain HTTP to `backend`; one thread owns every
    SSL object (see the module docstring)."""

    def __init__(self, listen: tuple[str, int], backend: tuple[str, int], certfile: str,
                 keyfile: str) -> None:
        self.backend = backend
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(certfile, keyfile)
        # kubectl and client-go negotiate h2 when offered; offer only HTTP/1.1 (as the
        # plain server speaks) so exec upgrades work as against a real apiserver's fallback.
        self.context.set_alpn_protocols(["http/1.1"])
        self.listener = socket.create_server(listen, backlog=128)
        self.listener.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.conns: set[_Conn] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def start(self) -> TLSTerminator:
        self._thread = threading.Thread(target=self._loop, name="fakekube-tls", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            _nodelay(sock)
            try:
                tls = self.context.wrap_socket(sock, server_side=True,
                                               do_handshake_on_connect=False)
            except (OSError, ssl.SSLError):
                sock.close()
                continue
            conn = _Conn(self, tls)
            self.conns.add(conn)
            conn.pump()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _mask in self.selector.select(timeout=0.1):
                    if key.data is None:
                        self._accept()
                    else:
                        conn: _Conn = key.data
                        if not conn.closed:
                            conn.pump()
        finally:
            for conn in list(self.conns):
                conn.close()
            self.selector.close()
            self.listener.close()
