"""An exec handed to the helper stops when its client goes away mid-exec (killed, cancelled,
interrupted): the helper does not go on running a command nobody waits for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from transport_support import POD, SETTINGS

from protocol.conformance import procscan
from protocol.conformance.fakekube.fixtures import FakeKubeEnv
from providers.kube.pod_exec import exec_in_pod
from providers.kube.transport import helper_client

pytest_plugins = ["transport_fixtures"]

#: The client: one exec through the helper that would run for ten minutes.
CLIENT = """
import sys
from providers.kube.pod_exec import exec_in_pod
from providers.kube.settings import KubeSettings
settings = KubeSettings(namespace="gc", kubectl="/usr/bin/kubectl", request_timeout=10)
exec_in_pod(sys.argv[1], ["sh", "-c", sys.argv[2]], container="agent", settings=settings,
            timeout=None, retry=sys.argv[3] == "read")
"""


def helper_running() -> None:
    """The helper up and serving (the op that starts it goes direct)."""
    exec_in_pod(POD, ["true"], container="agent", settings=SETTINGS)
    deadline = time.monotonic() + 30
    while helper_client.control("status") is None:
        assert time.monotonic() < deadline, "the helper did not start"
        time.sleep(0.05)


@pytest.mark.skipif(not procscan.available(), reason="needs /proc")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL],
                         ids=["SIGTERM", "SIGINT", "SIGKILL"])
@pytest.mark.parametrize("kind", ["read", "write"])
def test_a_client_gone_mid_exec_leaves_no_process_in_the_pod(helper_env: FakeKubeEnv, how: int,
                                                             kind: str) -> None:
    helper_running()
    marker = f"GC_TEST_CANCEL={os.getpid()}-{how}-{kind}-{time.monotonic_ns()}"
    script = f"export {marker}; sleep 600 & sleep 600; wait"
    client = subprocess.Popen([sys.executable, "-c", CLIENT, POD, script, kind],
                              env=dict(os.environ), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        started = procscan.wait_for(marker, at_least=2, timeout=60)  # both sleeps
        assert len(started) >= 2, (started, client.poll())
        status = helper_client.control("status") or {}
        assert status.get("active", 0) >= 1, status  # the helper runs it, not the client
        client.send_signal(how)
        client.wait(timeout=60)
        left = procscan.wait_gone(marker, timeout=30)
        assert not left, f"still running in the pod after the client went: {left}"
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        procscan.kill_all(procscan.with_environment_marker(marker))


def test_an_exec_that_ends_is_answered_whole_and_what_it_left_is_kept(
        helper_env: FakeKubeEnv) -> None:
    """The watch ends with the answer: a client that hangs up after it is not a cancel, so
    what the command left running on purpose (a daemon) lives on."""
    helper_running()
    marker = f"GC_TEST_KEPT={os.getpid()}-{time.monotonic_ns()}"
    script = f"export {marker}; nohup sleep 600 >/dev/null 2>&1 & echo started"
    result: Any = exec_in_pod(POD, ["sh", "-c", script], container="agent", settings=SETTINGS)
    try:
        assert (result.rc, result.out) == (0, b"started\n")
        exec_in_pod(POD, ["true"], container="agent", settings=SETTINGS)
        assert len(procscan.with_environment_marker(marker)) == 1
    finally:
        procscan.kill_all(procscan.with_environment_marker(marker))
