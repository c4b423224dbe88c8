"""Pure pieces of the fast transports: timestamps, URLs, frames."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import NamedTuple

import pytest

from providers.kube.transport import rundir
from providers.kube.transport.credentials import parse_rfc3339
from providers.kube.transport.interface import Fallback
from providers.kube.transport.kubeconfig import split_server
from providers.kube.transport.websocket import exec_path, exit_code, frame, quote


@pytest.mark.parametrize("stamp", ["2026-12-01T22:00:00Z", "1970-01-01T00:00:00Z",
                                   "2024-02-29T12:30:15.5+02:00", "2030-07-04T01:02:03-05:30",
                                   "2000-03-01T00:00:00Z", "1999-12-31T23:59:59.999Z"])
def test_rfc3339_timestamps_match_datetime(stamp: str) -> None:
    expected = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    assert parse_rfc3339(stamp) == pytest.approx(expected)


def test_an_unreadable_timestamp_means_no_expiry() -> None:
    assert parse_rfc3339("tomorrow") is None


class Server(NamedTuple):
    url: str
    host: str
    port: int
    secure: bool
    prefix: str


SERVERS = [
    Server("https://127.0.0.1:6443", "127.0.0.1", 6443, True, ""),
    Server("https://api.example.com", "api.example.com", 443, True, ""),
    Server("http://localhost", "localhost", 80, False, ""),
    Server("https://[::1]:8443/", "::1", 8443, True, ""),
    Server("https://rancher.example/k8s/clusters/c-1", "rancher.example", 443, True,
           "/k8s/clusters/c-1"),
]


@pytest.mark.parametrize("case", SERVERS, ids=[s.url for s in SERVERS])
def test_server_urls(case: Server) -> None:
    t = split_server(case.url, "k")
    assert (t.host, t.port, t.secure, t.path_prefix) == (case.host, case.port, case.secure,
                                                          case.prefix)


@pytest.mark.parametrize("bad", ["ftp://x", "127.0.0.1:6443", "https://x:port"])
def test_unusable_server_urls_fall_back(bad: str) -> None:
    with pytest.raises(Fallback):
        split_server(bad, "k")


def test_argv_is_percent_encoded_one_value_each() -> None:
    path = exec_path("", "gc", "p", "agent", ["sh", "-c", "a b&c=d;e", "é"], stdin=True)
    assert path == ("/api/v1/namespaces/gc/pods/p/exec?command=sh&command=-c&"
                    "command=a%20b%26c%3Dd%3Be&command=%C3%A9&container=agent&stdin=true&"
                    "stdout=true&stderr=true")
    assert quote("-._~AZaz09") == "-._~AZaz09"


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_client_frames_are_masked_and_unmask_to_the_payload(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    data = frame(0x2, payload)
    assert data[0] == 0x82 and data[1] & 0x80
    n = data[1] & 0x7F
    at = 2
    if n == 126:
        n, at = int.from_bytes(data[2:4], "big"), 4
    elif n == 127:
        n, at = int.from_bytes(data[2:10], "big"), 10
    mask, body = data[at:at + 4], data[at + 4:]
    assert n == size == len(body)
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == payload


class Status(NamedTuple):
    body: bytes
    code: int


STATUSES = [
    Status(b'{"metadata":{},"status":"Success"}', 0),
    Status(b'{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":'
           b'{"causes":[{"reason":"ExitCode","message":"42"}]}}', 42),
]


@pytest.mark.parametrize("case", STATUSES, ids=["success", "exit 42"])
def test_the_status_channel_gives_the_exit_code(case: Status) -> None:
    assert exit_code(case.body) == case.code


def test_private_files_written_by_many_threads_at_once_end_whole_and_leave_no_temp(
        tmp_path: Path) -> None:
    # The helper's threads resolve one kubeconfig at once and all write its cache file.
    target = str(tmp_path / "cache.json")
    payloads = [bytes([65 + n]) * (64 << 10) for n in range(16)]
    barrier = threading.Barrier(len(payloads))
    failures: list[BaseException] = []

    def write(data: bytes) -> None:
        barrier.wait()
        try:
            rundir.write_private(target, data)
        except BaseException as error:  # collected for the assertion
            failures.append(error)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert Path(target).read_bytes() in payloads
    assert Path(target).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json"]
