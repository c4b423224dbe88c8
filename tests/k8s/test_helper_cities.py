"""Two cities whose operators both write ``KUBECONFIG=kc`` (and a relative audit log and
kubectl) reach two clusters; one helper serves both. Each city's ops act on its own
cluster only: the helper resolves a caller's relative paths in the caller's working
directory, never in its own (which was the first caller's)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import Completed, executable, stop_helper, wait_for
from k8s_helpers import IMAGE, KUBECTL, NAMESPACE

from protocol.conformance.fakekube.fixtures import FakeKubeEnv
from protocol.conformance.fakekube.server import FakeKube
from providers.kube.transport import helper_client

SESSION = "mayor"


@pytest.fixture(scope="module")
def other_cluster() -> Iterator[FakeKube]:
    server = FakeKube("local")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class City:
    """A city directory: its kubeconfig ``kc``, kubectl ``bin/kubectl``, audit log and
    state, all named relatively, and the gc-session-k8s calls made from there."""

    def __init__(self, root: Path, server: FakeKube, base: dict[str, str], run_dir: str) -> None:
        self.root = root
        self.server = server
        (root / "bin").mkdir(parents=True)
        (root / "state").mkdir(mode=0o700)
        server.write_kubeconfig(str(root / "kc"))
        server.create_namespace(NAMESPACE)
        kubectl = root / "bin" / "kubectl"
        kubectl.write_text(f'#!/bin/sh\nexec {KUBECTL} "$@"\n')
        kubectl.chmod(0o755)
        self.env = {**base, "KUBECONFIG": "kc", "GC_KUBECTL": "bin/kubectl",
                    "GC_K8S_AUDIT_LOG": "audit.jsonl", "GC_EXEC_STATE_DIR": "state",
                    "GC_K8S_IMAGE": IMAGE, "GC_K8S_NAMESPACE": NAMESPACE,
                    "GC_K8S_RUNTIME_DIR": run_dir, "GC_NUDGE_DEBOUNCE_MS": "100"}
        for key in ("GC_K8S_CITY", "GC_SESSION", "TMUX"):
            self.env.pop(key, None)

    def run(self, op: str, *args: str, stdin: bytes = b"", transport: str = "helper") -> Completed:
        proc = subprocess.run([*executable("gc-session-k8s"), op, *args], input=stdin,
                              capture_output=True, timeout=120, cwd=self.root,
                              env={**self.env, "GC_K8S_TRANSPORT": transport}, check=False)
        return Completed(proc.returncode, proc.stdout.decode(errors="replace"),
                         proc.stderr.decode(errors="replace"))

    def audit(self) -> list[dict[str, Any]]:
        log = self.root / "audit.jsonl"
        if not log.exists():
            return []
        return [orjson.loads(line) for line in log.read_bytes().splitlines() if line]

    def helper_ops(self) -> set[str]:
        return {str(line.get("op")) for line in self.audit()
                if line.get("transport") == "helper" and "fallback" not in line}


@pytest.fixture
def cities(fake_kube: FakeKubeEnv, other_cluster: FakeKube,
           tmp_path: Path) -> Iterator[tuple[City, City]]:
    if not shutil.which(KUBECTL):
        pytest.skip(f"{KUBECTL} is not installed")
    where = tempfile.mkdtemp(prefix="gck-", dir="/tmp")  # short: the helper's socket lives here
    run_dir = where + "/run"
    a = City(tmp_path / "city-a", fake_kube.server, fake_kube.env, run_dir)
    b = City(tmp_path / "city-b", other_cluster, fake_kube.env, run_dir)
    try:
        yield a, b
    finally:
        for city in (a, b):
            city.run("stop", SESSION, transport="kubectl")
        stop_helper(run_dir)
        shutil.rmtree(where, ignore_errors=True)


def started(city: City) -> None:
    res = city.run("start", SESSION, stdin=b'{"command": "sleep 300"}', transport="kubectl")
    assert res.rc == 0, res.err


def helper_started_from(city: City) -> None:
    """City A's op starts the helper: it was started in A's directory."""
    city.run("is-running", SESSION)
    env = {"GC_K8S_RUNTIME_DIR": city.env["GC_K8S_RUNTIME_DIR"]}
    assert wait_for(lambda: helper_client.control("status", env) is not None, 30)


def test_each_city_acts_on_its_own_cluster_through_one_helper(cities: tuple[City, City]) -> None:
    a, b = cities
    started(a)
    started(b)
    helper_started_from(a)
    assert a.run("set-meta", SESSION, "owner", stdin=b"a").rc == 0
    assert b.run("set-meta", SESSION, "owner", stdin=b"b").rc == 0
    for city, owner in ((a, "a"), (b, "b")):
        for transport in ("helper", "kubectl"):
            assert city.run("get-meta", SESSION, "owner", transport=transport).value == owner
    assert b.run("nudge", SESSION, stdin=b"to-city-b").rc == 0
    assert wait_for(lambda: "to-city-b" in b.run("peek", SESSION, "50", transport="kubectl").out)
    assert "to-city-b" not in a.run("peek", SESSION, "50", transport="kubectl").out
    assert b.run("stop", SESSION, transport="kubectl").rc == 0
    assert b.run("is-running", SESSION).value == "false"  # A's mayor still runs
    assert a.run("is-running", SESSION).value == "true"
    # every op above went through the helper, and each audit line went to its own city
    assert {"set-meta", "get-meta", "nudge", "is-running"} <= b.helper_ops()
    assert "nudge" not in a.helper_ops()
    assert {"set-meta", "get-meta", "is-running"} <= a.helper_ops()


def test_a_city_without_the_session_never_sees_anothers(cities: tuple[City, City]) -> None:
    a, b = cities
    started(a)
    helper_started_from(a)
    assert a.run("is-running", SESSION).value == "true"
    for transport in ("helper", "kubectl"):
        assert b.run("is-running", SESSION, transport=transport).value == "false"
        assert b.run("set-meta", SESSION, "owner", stdin=b"b", transport=transport).rc != 0
    assert a.run("get-meta", SESSION, "owner", transport="kubectl").value == ""
