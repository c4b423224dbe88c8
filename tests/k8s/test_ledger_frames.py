"""The ledger tunnel's frames, without a cluster: the pod side (`POD_LISTENER`, run here as
the pod runs it) and the controller's `Relay` over a pipe pair; and what the relay does
with any frames a pod could send (it connects to its one target, or ends the tunnel)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_helpers import serving

from gc_session_k8s import ledger
from gc_session_k8s.ledger import HEADER, MAX_DATA, Relay, Violation
from protocol.starts import process_start_time
from providers.kube.settings import KubeSettings


@contextmanager
def tunnel(target_port: int) -> Iterator[int]:
    """The pod listener as a local process, relayed to 127.0.0.1:``target_port``; yields
    the listener's port."""
    port = ledger.free_port()
    pod = subprocess.Popen([sys.executable, "-c", ledger.POD_LISTENER, str(port)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert pod.stdin is not None and pod.stdout is not None
    stdin, stdout = pod.stdin, pod.stdout

    def write(data: bytes) -> None:
        stdin.write(data)
        stdin.flush()

    relay = Relay("127.0.0.1", target_port, write)
    up = threading.Event()

    def pump() -> None:
        while data := os.read(stdout.fileno(), 65536):
            relay.feed(data)
            if relay.ready:
                up.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert up.wait(30), "the pod side never said ready"
        yield port
    finally:
        stdin.close()  # the pod side ends with its stdin
        assert pod.wait(30) == 0
        reader.join(30)
        relay.close_all()


def get(port: int, path: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
        return answer.status, answer.read()


def test_a_request_and_its_answer_cross_the_frames() -> None:
    with serving(b'{"ready":[]}') as api, tunnel(api.port) as port:
        assert get(port, "/v0/beads/ready") == (200, b'{"ready":[]}')
        assert api.paths == ["/v0/beads/ready"]


def test_an_answer_larger_than_a_frame_arrives_whole() -> None:
    big = os.urandom(5 * MAX_DATA + 7).hex().encode()
    with serving(big) as api, tunnel(api.port) as port:
        assert get(port, "/v0/beads/ready") == (200, big)


def test_concurrent_connections_keep_their_own_answers() -> None:
    with serving(b"ok") as api, tunnel(api.port) as port:
        results: list[tuple[int, bytes]] = []
        threads = [threading.Thread(target=lambda i=i: results.append(
            get(port, f"/{i}/v0/beads/ready"))) for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results == [(200, b"ok")] * 30
        assert sorted(api.paths) == sorted(f"/{i}/v0/beads/ready" for i in range(30))


def test_a_target_that_refuses_closes_only_that_connection() -> None:
    dead = ledger.free_port()  # nothing listens there
    with tunnel(dead) as port, socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert s.recv(100) == b""  # closed, nothing relayed


def frame(kind: bytes, cid: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, cid, len(payload)) + payload


class Recorder:
    """A relay whose connections are recorded instead of made."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.targets: list[tuple[str, int]] = []
        self.sent = bytearray()

        def connect(address: tuple[str, int], timeout: float = 0) -> socket.socket:
            self.targets.append(address)
            raise ConnectionRefusedError

        monkeypatch.setattr(socket, "create_connection", connect)  # the module ledger uses
        self.relay = Relay("127.0.0.1", 4242, self.sent.extend)


def test_an_open_frame_that_names_a_target_ends_the_tunnel(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder(monkeypatch)
    with pytest.raises(Violation, match="names something"):
        rec.relay.feed(frame(b"O", 1, b"127.0.0.1:22"))
    assert rec.targets == []


@pytest.mark.parametrize(("data", "why"), [
    (frame(b"X", 1), "unknown frame kind"),
    (frame(b"O", 0), "reused"),
    (frame(b"O", 3) + frame(b"O", 3), "reused"),
    (frame(b"R", 0, b"bd") + frame(b"R", 0, b"bd"), "second ready"),
    (frame(b"C", 1, b"x"), "payload"),
    (HEADER.pack(b"D", 1, MAX_DATA + 1), "at most"),
])
def test_frames_the_protocol_does_not_allow_end_the_tunnel(
        monkeypatch: pytest.MonkeyPatch, data: bytes, why: str) -> None:
    rec = Recorder(monkeypatch)
    with pytest.raises(Violation, match=why):
        rec.relay.feed(data)


KINDS = st.sampled_from([b"R", b"O", b"D", b"C", b"X", b"\0"])
FRAMES = st.lists(st.tuples(KINDS, st.integers(0, 5), st.binary(max_size=40)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(frames=FRAMES, cut=st.integers(1, 64))
def test_whatever_the_pod_sends_the_relay_connects_only_to_its_target(
        frames: list[tuple[bytes, int, bytes]], cut: int) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        rec = Recorder(monkeypatch)
        stream = b"".join(frame(k, i, p) for k, i, p in frames)
        try:
            for at in range(0, len(stream), cut):  # any split of the byte stream
                rec.relay.feed(stream[at:at + cut])
        except Violation:
            pass
        assert set(rec.targets) <= {("127.0.0.1", 4242)}
        # each refused open is answered with that connection's close, and nothing else
        sent = bytes(rec.sent)
        closes = [HEADER.unpack_from(sent, at) for at in range(0, len(sent), HEADER.size)]
        assert len(sent) == HEADER.size * len(closes) == HEADER.size * len(rec.targets)
        assert all(kind == b"C" and n == 0 for kind, _, n in closes)


def record_for(runtime: Path, settings: KubeSettings, pid: int, nonce: str, *,
               started: str | None = None) -> Path:
    where = runtime / "ledger"
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    path = where / f"{ledger.key(settings, 'pod-1', 'sess')}.pid"
    path.write_text(f"{pid} {started or process_start_time(pid)} {nonce}\n")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("case", ["nonce not in its argv", "another start time", "a symlink"])
def test_stop_signals_no_process_the_record_names_unless_it_is_that_forwarder(
        tmp_path: Path, case: str) -> None:
    env = {"GC_K8S_RUNTIME_DIR": str(tmp_path / "run"), "GC_K8S_NAMESPACE": "gc"}
    settings = KubeSettings.from_env(env)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                                  "--nonce=other"])
    try:
        path = record_for(tmp_path / "run", settings, bystander.pid,
                          "other" if case != "nonce not in its argv" else "mine",
                          started="1" if case == "another start time" else None)
        if case == "a symlink":
            real = path.with_suffix(".real")
            path.rename(real)
            path.symlink_to(real)
        ledger.end(env, settings, "pod-1", "sess")
        assert bystander.poll() is None, "a process the record does not prove was signalled"
    finally:
        bystander.kill()
        bystander.wait()


def test_stop_ends_the_process_the_record_proves(tmp_path: Path) -> None:
    env = {"GC_K8S_RUNTIME_DIR": str(tmp_path / "run"), "GC_K8S_NAMESPACE": "gc"}
    settings = KubeSettings.from_env(env)
    forwarder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                                  "--nonce=n1"])
    try:
        path = record_for(tmp_path / "run", settings, forwarder.pid, "n1")
        ledger.end(env, settings, "pod-1", "sess", forget_log=True)
        assert forwarder.wait(10) == -signal.SIGTERM
        assert not path.exists()
    finally:
        forwarder.kill()
        forwarder.wait()
