"""`gc-beads-k8s init` by hand: progress on a terminal, one-line errors, rollback."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

from beads_helpers import City
from helpers import default_signals

from gc_beads_k8s.naming import runner_pod


def _run_on_pty(city: City, *args: str, env: dict[str, str] | None = None,
                interrupt_after: str = "", timeout: float = 60) -> tuple[int, str]:
    """Run the executable with stdout/stderr on a pseudo-terminal; return (rc, output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*city.provider.argv, *args], stdin=slave, stdout=slave,
                            stderr=slave, env={**city.env, **(env or {})}, close_fds=True,
                            preexec_fn=default_signals)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        text = b"".join(chunks).decode("utf-8", "replace")
        if interrupt_after and not sent and interrupt_after in text:
            proc.send_signal(signal.SIGINT)
            sent = True
        if proc.poll() is not None and not ready:
            break
    rc = proc.wait(timeout=30)
    os.close(master)
    return rc, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def _pod_exists(city: City) -> bool:
    res = subprocess.run(["/usr/bin/kubectl", "-n", "gc", "get", "pod",
                          runner_pod(str(city.root)), "-o", "name"],
                         env=city.env, capture_output=True, check=False)
    return res.returncode == 0


def _wait_gone(city: City, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _pod_exists(city):
            return True
        time.sleep(0.3)
    return False


def test_init_on_a_terminal_shows_progress_and_ends_with_success(bare_city: City) -> None:
    rc, out = _run_on_pty(bare_city, "init", str(bare_city.root), "mc")
    assert rc == 0, out
    assert "creating runner pod" in out
    assert "waiting for the runner pod to be ready" in out
    assert out.rstrip().splitlines()[-1].startswith("gc-beads-k8s: ok: scope")


def test_init_without_a_terminal_prints_nothing(bare_city: City) -> None:
    res = bare_city.run("init", str(bare_city.root), "mc")
    assert res.rc == 0, res.err
    assert res.out == "" and res.err == ""


def test_init_failure_on_a_terminal_is_one_line_and_removes_the_pod(bare_city: City) -> None:
    rc, out = _run_on_pty(bare_city, "init", str(bare_city.root), "mc",
                          env={"GC_K8S_DOLT_PORT": "1"})
    assert rc == 1
    errors = [line for line in out.splitlines() if line.startswith("gc-beads-k8s init:")]
    assert len(errors) == 1 and "connection refused" in errors[0], out
    assert "rolling back" in out
    assert _wait_gone(bare_city)


def test_init_interrupted_by_ctrl_c_rolls_back_the_pod(bare_city: City,
                                                        fake_kube: object) -> None:
    server = fake_kube.server  # type: ignore[attr-defined]
    server.faults.add("pending", pod="gc-beads-.*", times=None)  # the pod never gets ready
    try:
        rc, out = _run_on_pty(bare_city, "init", str(bare_city.root), "mc",
                              interrupt_after="waiting for the runner pod")
    finally:
        server.faults.clear()
    assert rc == 1, out
    assert "interrupted" in out
    assert _wait_gone(bare_city), out


def test_init_without_image_is_a_clear_one_line_error(bare_city: City) -> None:
    res = bare_city.run("init", str(bare_city.root), "mc", env={"GC_K8S_IMAGE": ""})
    assert res.rc == 1
    assert res.err.strip() == ("gc-beads-k8s init: GC_K8S_IMAGE is required "
                               "(the runner image with sh and bd)")


def test_init_with_missing_rbac_names_the_verb_and_resource(bare_city: City,
                                                            fake_kube: object) -> None:
    server = fake_kube.server  # type: ignore[attr-defined]
    server.faults.add("deny", verb="create", resource="pods", times=None)
    try:
        res = bare_city.run("init", str(bare_city.root), "mc")
    finally:
        server.faults.clear()
    assert res.rc == 1
    assert len(res.err.strip().splitlines()) == 1
    assert "cannot create resource" in res.err and "pods" in res.err


def test_doctor_reports_each_check(city: City) -> None:
    res = city.run("doctor")
    assert res.rc == 0, res.out + res.err
    assert "ok    cluster reachable" in res.out
    assert "all checks passed" in res.out


def test_doctor_fails_on_missing_exec_permission(city: City, fake_kube: object) -> None:
    server = fake_kube.server  # type: ignore[attr-defined]
    server.faults.add("deny", verb="create", resource="pods/exec", times=None)
    try:
        res = city.run("doctor")
    finally:
        server.faults.clear()
    assert res.rc == 1
    assert "FAIL" in res.out


def test_init_typer_usage_error_exits_1(bare_city: City, tmp_path: Path) -> None:
    res = bare_city.run("init", "--bogus-flag")
    assert res.rc == 1
    assert len(res.err.strip().splitlines()) == 1
