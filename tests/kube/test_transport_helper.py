"""The helper transport: a resident per-user process that never fails an op and trusts
only its own user."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import stand_in_helper
from transport_support import (
    POD,
    SETTINGS,
    audit_lines,
    ca_b64,
    fallbacks,
    helper_misses,
    plugin,
    runs,
    transports,
    use,
    write_kubeconfig,
)

from protocol.conformance.fakekube import server as fake_server
from protocol.conformance.fakekube.fixtures import FakeKubeEnv
from protocol.privdir import Untrusted
from protocol.proc import Result
from providers.kube.errors import KubeForbidden, KubeUnavailable, PodGone
from providers.kube.pod_exec import exec_in_pod
from providers.kube.transport import helper_client, wire

pytest_plugins = ["transport_fixtures"]

NOBODY = 65534


def run(argv: list[str], *, stdin: bytes | None = None, pod: str = POD,
        retry: bool = True) -> Result:
    return exec_in_pod(pod, argv, container="agent", settings=SETTINGS, stdin=stdin, retry=retry)


def wait_for(pred: Any, what: str, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def status() -> dict[str, Any] | None:
    return helper_client.control("status")


def helper_up() -> dict[str, Any]:
    """Start the helper (as the first op would) and wait until it answers."""
    helper_client.launch()
    wait_for(lambda: status() is not None, "the helper to answer")
    state = status()
    assert state is not None
    return state


def run_dir() -> Path:
    return Path(os.environ["GC_K8S_RUNTIME_DIR"])


def test_the_first_op_starts_the_helper_and_later_ops_go_through_it(helper_env: FakeKubeEnv,
                                                                    tmp_path: Path) -> None:
    assert run(["echo", "one"]).out == b"one\n"  # no helper yet: direct, and one is started
    wait_for(lambda: status() is not None, "the helper started by the first op")
    two = run(["sh", "-c", "echo two; echo e >&2; exit 4"])
    assert (two.rc, two.out, two.err) == (4, b"two\n", b"e\n")
    assert run(["cat"], stdin=b"through the helper").out == b"through the helper"
    assert transports(tmp_path) == ["direct", "helper", "helper"]
    assert helper_misses(tmp_path) == ["not running (starting one)"]
    where = run_dir()
    assert where.stat().st_mode & 0o777 == 0o700
    assert (where / wire.socket_name()).stat().st_mode & 0o777 == 0o600


def test_errors_keep_their_class_through_the_helper(helper_env: FakeKubeEnv) -> None:
    helper_up()
    with pytest.raises(PodGone):
        run(["true"], pod="no-such-pod")
    helper_env.server.deny("create", "pods/exec")
    with pytest.raises(KubeForbidden) as caught:
        run(["true"])
    assert caught.value.resource == "pods/exec"


def test_the_cli_reports_and_stops_the_helper(helper_env: FakeKubeEnv) -> None:
    from helpers import executable

    exe = executable("gc-session-k8s")
    state = helper_up()
    shown = subprocess.run([*exe, "helper", "status"], capture_output=True, text=True,
                           timeout=60, check=False)
    assert shown.returncode == 0 and f'"pid": {state["pid"]}' in shown.stdout
    stopped = subprocess.run([*exe, "helper", "stop"], capture_output=True, text=True,
                             timeout=60, check=False)
    assert stopped.returncode == 0
    wait_for(lambda: status() is None, "the helper to stop")
    again = subprocess.run([*exe, "helper", "status"], capture_output=True, text=True,
                           timeout=60, check=False)
    assert again.stdout.strip() == "helper: not running"


@pytest.fixture
def exec_arrived(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Set when the fake server receives an exec request."""
    arrived = threading.Event()
    original = fake_server._Handler._dispatch

    def spy(self: Any) -> None:
        if "/exec?" in self.path:
            arrived.set()
        original(self)

    monkeypatch.setattr(fake_server._Handler, "_dispatch", spy)
    yield arrived


def kill_mid_op(arrived: threading.Event, pid: int) -> threading.Thread:
    def killer() -> None:
        arrived.wait(60)
        os.kill(pid, signal.SIGKILL)

    thread = threading.Thread(target=killer)
    thread.start()
    return thread


def test_a_helper_killed_mid_read_never_fails_the_op(helper_env: FakeKubeEnv, tmp_path: Path,
                                                     exec_arrived: threading.Event) -> None:
    state = helper_up()
    killer = kill_mid_op(exec_arrived, int(state["pid"]))
    result = run(["sh", "-c", "sleep 1; echo done"], retry=True)
    killer.join()
    assert result.out == b"done\n"
    assert transports(tmp_path)[-1] == "direct"
    assert helper_misses(tmp_path) == ["no answer mid-exec: helper closed the connection"]


def test_a_helper_killed_mid_write_is_a_clear_error_not_a_second_write(
        helper_env: FakeKubeEnv, exec_arrived: threading.Event) -> None:
    state = helper_up()
    killer = kill_mid_op(exec_arrived, int(state["pid"]))
    with pytest.raises(KubeUnavailable, match="helper died mid-exec"):
        run(["sh", "-c", "sleep 1; echo typed"], retry=False)
    killer.join()


def test_a_failure_inside_the_helper_is_logged_and_answered_and_it_serves_on(
        helper_env: FakeKubeEnv, tmp_path: Path) -> None:
    helper_up()
    # argv null reaches `[str(a) for a in None]`: a TypeError standing in for any bug of
    # ours inside the helper.
    request = {"op": "exec", "version": wire.code_version(), "env": dict(os.environ), "cwd": os.getcwd(),
               "settings": {"namespace": "gc"}, "pod": POD, "container": "agent",
               "argv": None, "timeout": 5, "retry": True, "stdin": None}
    sock = helper_client.connect(start=False)
    try:
        sock.sendall(wire.pack(request))
        assert sock.recv(1) == b"S"
        assert "TypeError" in wire.recv_header(sock)["helper_failed"]
    finally:
        sock.close()
    log = (run_dir() / "helper.log").read_text()
    assert "an exec failed inside the helper" in log and "TypeError" in log
    assert status() is not None  # the helper itself goes on serving


@pytest.fixture
def failing_helper(helper_env: FakeKubeEnv) -> Iterator[None]:
    """A stand-in helper that starts every exec and then reports a failure of its own."""

    def reply(conn: socket.socket) -> None:
        wire.recv_header(conn)
        conn.sendall(b"S" + wire.pack({"helper_failed": "RuntimeError('x')"}))

    with stand_in_helper(run_dir(), reply):
        yield


@pytest.mark.usefixtures("failing_helper")
def test_a_read_the_helper_fails_goes_direct_and_its_audit_line_says_why(tmp_path: Path) -> None:
    assert run(["echo", "ok"], retry=True).out == b"ok\n"
    assert transports(tmp_path) == ["direct"]
    assert helper_misses(tmp_path) == ["no answer mid-exec: it failed: RuntimeError('x')"]


@pytest.mark.usefixtures("failing_helper")
def test_a_write_the_helper_fails_is_a_clear_error_not_a_second_write(tmp_path: Path) -> None:
    with pytest.raises(KubeUnavailable, match="a write is not repeated"):
        run(["echo", "typed"], retry=False)
    assert transports(tmp_path) == ["helper"]


def test_a_dead_helper_with_a_stale_socket_costs_only_a_fallback(helper_env: FakeKubeEnv,
                                                                 tmp_path: Path) -> None:
    state = helper_up()
    os.kill(int(state["pid"]), signal.SIGKILL)
    wait_for(lambda: status() is None, "the killed helper to stop answering")
    assert (run_dir() / wire.socket_name()).exists()  # left behind by SIGKILL
    assert run(["echo", "ok"]).out == b"ok\n"
    assert transports(tmp_path) == ["direct"]
    assert helper_misses(tmp_path) == ["connect: Connection refused"]
    wait_for(lambda: status() is not None, "a new helper started by that op")


def test_a_socket_owned_by_another_uid_is_refused(helper_env: FakeKubeEnv,
                                                  tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to make a socket owned by another uid")
    where = run_dir()
    where.mkdir(mode=0o700)
    planted = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    planted.bind(str(where / wire.socket_name()))
    planted.listen(1)
    os.chown(where / wire.socket_name(), NOBODY, NOBODY)
    try:
        with pytest.raises(Untrusted, match=f"owned by uid {NOBODY}"):
            run(["echo", "ok"])  # refused, never gone around (privdir)
    finally:
        planted.close()
    assert transports(tmp_path) == ["helper"]  # its audit line (rc -1): no other way ran


PLANTER = """
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o600)
os.setresuid(65534, 65534, 65534)  # listen() records the credentials peers will see
s.listen(1)
print("ready", flush=True)
time.sleep(120)
"""


def test_a_helper_running_as_another_uid_is_refused(helper_env: FakeKubeEnv,
                                                    tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to listen as another uid")
    where = run_dir()
    where.mkdir(mode=0o700)
    planter = subprocess.Popen([sys.executable, "-c", PLANTER, str(where / wire.socket_name())],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert planter.stdout is not None and planter.stdout.readline() == "ready\n"
        with pytest.raises(Untrusted, match=f"it runs as uid {NOBODY}"):
            run(["echo", "ok"])
    finally:
        planter.kill()
        planter.wait()
    assert transports(tmp_path) == ["helper"]  # its audit line (rc -1): no other way ran


def test_a_runtime_dir_open_to_others_is_refused(helper_env: FakeKubeEnv, tmp_path: Path) -> None:
    where = run_dir()
    where.mkdir(mode=0o700)
    (where / wire.socket_name()).touch()
    where.chmod(0o775)
    with pytest.raises(Untrusted, match="writable by others"):
        run(["true"])  # refused, not gone around: nothing ran
    assert transports(tmp_path) == ["helper"]  # its audit line (rc -1): no other way ran
    assert "writable by others" in str((status() or {}).get("refused"))


def test_a_file_at_the_helper_socket_path_is_refused_not_ignored(helper_env: FakeKubeEnv,
                                                                 tmp_path: Path) -> None:
    where = run_dir()
    where.mkdir(mode=0o700)
    (where / wire.socket_name()).write_text("not a socket")
    with pytest.raises(Untrusted, match="not a socket"):
        run(["true"])
    assert transports(tmp_path) == ["helper"]  # its audit line (rc -1): no other way ran


WORKER = """
import sys
from providers.kube import audit
from providers.kube.pod_exec import exec_in_pod
from providers.kube.settings import KubeSettings
audit.set_operation(sys.argv[4] if len(sys.argv) > 4 else "")
settings = KubeSettings(namespace="gc", kubectl="/usr/bin/kubectl")
for i in range(int(sys.argv[2])):
    r = exec_in_pod(sys.argv[1], ["sh", "-c", "cat; echo -n :$0", sys.argv[3] + str(i)],
                    container="agent", settings=settings, stdin=b"in", retry=True)
    assert (r.rc, r.out) == (0, f"in:{sys.argv[3]}{i}".encode()), r
"""


@pytest.mark.parametrize("op", ["", "is-running"], ids=["own-execs", "resident-streams"])
def test_concurrent_ops_from_many_processes_through_one_helper(helper_env: FakeKubeEnv,
                                                               tmp_path: Path, op: str) -> None:
    before = helper_up()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, POD, "5", f"w{n}-", op],
                                env=dict(os.environ), stderr=subprocess.PIPE)
               for n in range(8)]
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err.decode()[-800:]
    lines = audit_lines(tmp_path)
    assert len(lines) == 40
    assert [line for line in lines if line["transport"] != "helper"] == []
    assert {bool(line.get("resident")) for line in lines} == {bool(op)}
    after = status()
    assert after is not None and after["pid"] == before["pid"]
    assert after["served"] - before["served"] >= 40


def test_a_client_of_another_code_version_makes_the_helper_exit(
        helper_env: FakeKubeEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper_up()
    monkeypatch.setattr(helper_client, "code_version", lambda: "0:another-build")
    assert run(["echo", "ok"]).out == b"ok\n"
    assert transports(tmp_path) == ["direct"]
    assert helper_misses(tmp_path) == [
        "its code version differs (it exits; the next op starts a new one)"]
    wait_for(lambda: status() is None, "the outdated helper to exit")


def test_an_idle_helper_exits_by_itself(helper_env: FakeKubeEnv,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GC_K8S_HELPER_IDLE", "1")
    helper_up()
    wait_for(lambda: status() is None, "the idle helper to exit")
    assert not (run_dir() / wire.socket_name()).exists()


def test_the_helper_keeps_a_plugin_token_until_it_expires(helper_env: FakeKubeEnv,
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    command, count = plugin(tmp_path, status={"token": "tk",
                                              "expirationTimestamp": "2999-01-01T00:00:00Z"})
    cluster = {"server": helper_env.url, "certificate-authority-data": ca_b64(helper_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": command}}))
    helper_up()
    run(["true"])  # resolves the kubeconfig (the kubectl dispatcher may run the plugin too)
    count.write_text("")
    for _ in range(4):
        run(["true"])
    assert runs(count) == 0  # the helper's token still serves
    assert set(transports(tmp_path)) == {"helper"}


def test_a_kubeconfig_only_kubectl_can_use_goes_straight_to_kubectl(
        helper_env: FakeKubeEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = {"server": helper_env.url, "certificate-authority-data": ca_b64(helper_env)}
    use(monkeypatch, write_kubeconfig(tmp_path / "cfg", cluster=cluster,
                                      user={"token": "x", "as": "someone-else"}))
    helper_up()
    try:
        run(["true"])
    except Exception:
        pass  # kubectl's verdict on impersonation against the fake; who ran it matters
    assert fallbacks(tmp_path) == ["impersonation"]  # the helper's, not direct's as well
    assert transports(tmp_path) == ["kubectl"]


@pytest.mark.parametrize("setting", ["auto", ""], ids=["auto", "unset (the default)"])
def test_auto_starts_the_helper_and_uses_it(helper_env: FakeKubeEnv, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    if setting:
        monkeypatch.setenv("GC_K8S_TRANSPORT", setting)
    else:
        monkeypatch.delenv("GC_K8S_TRANSPORT")
    assert run(["echo", "a"]).out == b"a\n"
    wait_for(lambda: status() is not None, "the helper auto started")
    assert run(["echo", "b"]).out == b"b\n"
    assert transports(tmp_path) == ["direct", "helper"]


def test_the_op_that_starts_the_helper_leaves_no_pipe_of_its_caller_open(
        helper_env: FakeKubeEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gc reads an op's stdout and stderr to EOF: the helper that op starts (by default)
    must hold neither, or every first op would hang until the helper exits."""
    monkeypatch.delenv("GC_K8S_TRANSPORT")
    assert status() is None
    op = subprocess.run([sys.executable, "-c", WORKER, POD, "1", "first-"], env=dict(os.environ),
                        capture_output=True, timeout=120, check=False)
    assert op.returncode == 0, op.stderr.decode()[-800:]
    wait_for(lambda: status() is not None, "the helper started by the first op")
    assert transports(tmp_path) == ["direct"]


def test_a_helper_started_without_an_answerer_hands_the_read_back_and_makes_way(
        helper_env: FakeKubeEnv) -> None:
    """The shared helper answers whole reads only with what the executable that started
    it handed over; one started by another executable (here: no answerer at all) sends
    the client to run its op itself, and exits so that the client's executable starts one."""
    helper_up()
    sock = wire.connect()
    try:
        sock.settimeout(30)
        sock.sendall(wire.answer_request("gc-session-k8s", ["is-running", "w1"], b""))
        assert wire.recv_answer(sock) is None
        rest = b""
        while chunk := sock.recv(4096):
            rest += chunk
    finally:
        sock.close()
    assert b"no answerer 'gc-session-k8s' here" in rest
    wait_for(lambda: status() is None, "the helper to make way")
