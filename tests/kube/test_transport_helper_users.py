"""The helper's socket answers its own user only: another local user cannot reach it (0600
in the 0700 runtime dir), and even with those modes opened the helper hangs up on a peer
whose SO_PEERCRED uid is not its own before reading a byte."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import wait_for
from local_users import Stranger, as_stranger, throwaway_user

from protocol.conformance.fakekube.fixtures import FakeKubeEnv
from providers.kube.transport import helper_client, wire

pytest_plugins = ["transport_fixtures"]


@pytest.fixture
def stranger() -> Iterator[Stranger]:
    with throwaway_user() as who:
        yield who


def test_another_local_user_gets_nothing_from_the_helper(helper_env: FakeKubeEnv,
                                                         stranger: Stranger) -> None:
    helper_client.launch()
    run = Path(os.environ["GC_K8S_RUNTIME_DIR"])
    sock = run / wire.socket_name()
    assert wait_for(lambda: helper_client.control("status") is not None, timeout=30)
    before = helper_client.control("status")
    assert before is not None
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    ask = {"unix": str(sock), "send": wire.pack({"op": "stop"}).hex()}
    assert as_stranger(stranger, [{"name": "closed", **ask}])["attempts"] == {
        "closed": {"error": "PermissionError"}}
    # Modes opened (as a mistake or another tool might): the uid check still hangs up.
    for d in (run, run.parent):
        d.chmod(0o755)
    sock.chmod(0o666)
    got = as_stranger(stranger, [{"name": "opened", **ask}])["attempts"]["opened"]
    # Hung up on (before or while it sent): not one byte back...
    assert got in ({"got": ""}, {"error": "BrokenPipeError"}, {"error": "ConnectionResetError"})
    # ...and its "stop" never read: the helper still serves its own user (once the modes are
    # back: our client refuses a socket that is not 0600 in a 0700 dir).
    assert "refused" in (helper_client.control("status") or {})
    run.chmod(0o700)
    sock.chmod(0o600)
    state = helper_client.control("status")
    assert state is not None and state["pid"] == before["pid"]
