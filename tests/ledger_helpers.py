"""A stand-in beads API and a second loopback server for the ledger tunnel's tests."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Server:
    """A loopback HTTP server on a random port that records the paths it was asked for."""

    def __init__(self, answer: bytes) -> None:
        self.paths: list[str] = []
        self.connections = 0
        seen = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.paths.append(self.path)
                body = answer if self.path.endswith("/v0/beads/ready") else b"{}"
                self.send_response(200 if body is answer else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        class Counting(http.server.ThreadingHTTPServer):
            def verify_request(self, request: object, client_address: object) -> bool:
                seen.connections += 1
                return True

        self.httpd = Counting(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@contextmanager
def serving(answer: bytes) -> Iterator[Server]:
    server = Server(answer)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


#: Run in the pod: GET $GC_BEADS_API + argv[1] (proxies ignored), print status and body.
FETCH = ("import os, sys, urllib.request\n"
         "o = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
         "r = o.open(os.environ['GC_BEADS_API'].rstrip('/') + sys.argv[1], timeout=20)\n"
         "print(r.status, r.read().decode())\n")

#: Run in the pod: N requests at once through the tunnel; prints how many answered 200.
MANY = ("import os, sys, threading, urllib.request\n"
        "o = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
        "url = os.environ['GC_BEADS_API'].rstrip('/') + '/v0/beads/ready'\n"
        "ok = []\n"
        "def one():\n"
        "    ok.append(o.open(url, timeout=30).status)\n"
        "ts = [threading.Thread(target=one) for _ in range(int(sys.argv[1]))]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(ok.count(200))\n")

#: Run in the pod: a proxy-style request naming another server, sent to the tunnel's port.
PROXY = ("import os, socket, sys, urllib.parse\n"
         "u = urllib.parse.urlsplit(os.environ['GC_BEADS_API'])\n"
         "s = socket.create_connection((u.hostname, u.port), timeout=20)\n"
         "s.sendall(('GET http://127.0.0.1:%s/secret HTTP/1.1\\r\\nHost: 127.0.0.1:%s\\r\\n'\n"
         "           'Connection: close\\r\\n\\r\\n' % (sys.argv[1], sys.argv[1])).encode())\n"
         "data = b''\n"
         "while True:\n"
         "    got = s.recv(65536)\n"
         "    if not got: break\n"
         "    data += got\n"
         "print(data.split(b'\\r\\n', 1)[0].decode())\n")


def shell_quote(*argv: str) -> str:
    """The POSIX shell-quoted argv gc sends to exec."""
    return " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)


def live_argvs() -> Iterator[tuple[int, list[bytes], bytes]]:
    """(pid, argv, state letter) of each process on this machine that can be read."""
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        yield int(pid), argv, state


def forwarders(session: str) -> list[int]:
    """Live ledger forwarders of ``session`` on this machine (its name is in their argv)."""
    found = []
    for pid, argv, state in live_argvs():
        if b"gc_session_k8s.ledger" in argv and session.encode() in argv and state != b"Z":
            found.append(pid)
    return found


def tunnel_processes(session: str, pod_port: int) -> list[int]:
    """Every live process of ``session``'s tunnel on this machine: the forwarder, its kubectl,
    and (where pods are local processes, as on both test beds) the pod side."""
    found = []
    port = str(pod_port).encode()
    for pid, argv, state in live_argvs():
        listener = any(b"struct.Struct('!cII')" in a for a in argv) and port in argv
        forwarder = b"gc_session_k8s.ledger" in argv and session.encode() in argv
        if (listener or forwarder) and state != b"Z":
            found.append(pid)
    return found
