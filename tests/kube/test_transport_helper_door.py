"""The helper's door (`providers.kube.transport.wire.ask_door`): the quick client's way in
without `socket`. The helper serves only a request file and a reply FIFO of its own uid,
closed to others; the client trusts only a FIFO of ours alone in our 0700 runtime dir."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from protocol.privdir import Untrusted
from protocol.proc import Result
from providers.kube.transport import helper, wire

NOBODY = 65534
ANSWERER = "door-test"


def answer(argv: list[str], environ: dict[str, str], data: bytes,
           execute: Callable[..., Result]) -> bytes:
    return f"answered {' '.join(argv)}\n".encode()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    where = tmp_path / "run"
    where.mkdir(mode=0o700)
    return where


@pytest.fixture
def door(run_dir: Path) -> Iterator[helper.Helper]:
    """A helper (no API server behind it) reading its door in ``run_dir``."""
    served = helper.Helper(str(run_dir), 300, {ANSWERER: answer})
    path = str(run_dir / wire.door_name())
    fd = helper.open_door(path)
    stop = threading.Event()

    def serve() -> None:
        pending = b""
        while not stop.is_set():
            if select.select([fd], [], [], 0.1)[0]:
                tokens, pending = helper.read_tokens(fd, pending)
                for token in tokens:
                    served.handle_door(token)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        stop.set()
        thread.join(10)
        helper.close_door(served, path, fd)


def request(*argv: str) -> bytes:
    return wire.answer_request(ANSWERER, list(argv), b"")


def test_a_read_through_the_door_is_answered_and_leaves_no_file_behind(
        door: helper.Helper, run_dir: Path) -> None:
    env = {"GC_K8S_RUNTIME_DIR": str(run_dir)}
    assert wire.ask_door(request("is-running", "w1"), 10, env) == b"answered is-running w1\n"
    assert sorted(os.listdir(run_dir)) == [wire.door_name()]
    assert (run_dir / wire.door_name()).stat().st_mode & 0o777 == 0o600


def plant(run_dir: Path, token: str, *, mode: int = 0o600, owner: int | None = None,
          link: bool = False) -> int:
    """A request file for ``token`` and its reply FIFO (opened for reading, returned)."""
    query = run_dir / f"q-{token}"
    if link:
        target = run_dir / "elsewhere"
        target.write_bytes(request("is-running", "w1"))
        query.symlink_to(target)
    else:
        query.write_bytes(request("is-running", "w1"))
        query.chmod(mode)
        if owner is not None:
            os.chown(query, owner, owner)
    os.mkfifo(run_dir / f"r-{token}", 0o600)
    return os.open(run_dir / f"r-{token}", os.O_RDONLY | os.O_NONBLOCK)


def untouched(reply: int) -> bool:
    """No writer ever opened the reply FIFO (Linux: no hang-up is reported before one)."""
    poller = select.poll()
    poller.register(reply, select.POLLIN)
    return poller.poll(0) == []


@pytest.mark.parametrize("how", ["open to others", "another uid", "a symlink"])
def test_a_request_not_ours_alone_is_never_answered(run_dir: Path, how: str) -> None:
    if how == "another uid" and os.geteuid() != 0:
        pytest.skip("needs root to give a file away")
    served = helper.Helper(str(run_dir), 300, {ANSWERER: answer})
    token = "ab" * (wire.TOKEN_HEX // 2)
    reply = plant(run_dir, token, mode=0o644 if how == "open to others" else 0o600,
                  owner=NOBODY if how == "another uid" else None, link=how == "a symlink")
    try:
        served.handle_door(token.encode())
        assert untouched(reply)
    finally:
        os.close(reply)


@pytest.mark.parametrize("token", [b"../../etc/passwd", b"AB" * 12, b"ab" * 11, b"", b"ab" * 13])
def test_a_token_that_is_not_ours_names_no_file(run_dir: Path, token: bytes) -> None:
    served = helper.Helper(str(run_dir), 300, {ANSWERER: answer})
    reply = plant(run_dir, "ab" * 12)
    try:
        served.handle_door(token)
        assert untouched(reply)
    finally:
        os.close(reply)


@pytest.mark.parametrize("how", ["open to others", "a regular file"])
def test_the_client_refuses_a_door_not_ours_alone(run_dir: Path, how: str) -> None:
    path = run_dir / wire.door_name()
    if how == "a regular file":
        path.write_text("planted")
        path.chmod(0o600)
    else:
        os.mkfifo(path, 0o600)
        path.chmod(0o622)
    with pytest.raises(Untrusted):
        wire.ask_door(request("is-running", "w1"), 10, {"GC_K8S_RUNTIME_DIR": str(run_dir)})


def test_a_door_nobody_reads_is_absent_and_leaves_no_file_behind(run_dir: Path) -> None:
    os.mkfifo(run_dir / wire.door_name(), 0o600)  # a helper that died without cleaning up
    with pytest.raises(wire.Absent):
        wire.ask_door(request("is-running", "w1"), 10, {"GC_K8S_RUNTIME_DIR": str(run_dir)})
    assert sorted(os.listdir(run_dir)) == [wire.door_name()]


def test_requests_in_the_door_when_the_helper_exits_are_told_at_once(run_dir: Path) -> None:
    """Its client then runs the op itself instead of waiting for a pickup that never comes."""
    served = helper.Helper(str(run_dir), 300, {ANSWERER: answer})
    path = str(run_dir / wire.door_name())
    fd = helper.open_door(path)
    token = "cd" * (wire.TOKEN_HEX // 2)
    reply = plant(run_dir, token)
    try:
        os.write(fd, token.encode() + b"\n")
        helper.close_door(served, path, fd)
        got = wire.read_reply(reply, 10)
        assert got is None
        assert not os.path.exists(path)
    finally:
        os.close(reply)
