"""One real control plane (etcd + kube-apiserver + kube-controller-manager + node agent)
per test session, and a fresh namespace per test set up as examples/k8s says.

The binaries come from .ci/build-realkube (REALKUBE_BIN, or built on first use: it
skips the build when the binaries for this tree's Go sources exist). Every test of
this directory carries the ``realkube`` marker (its ``pytestmark``): `make realkube-tests` selects it and
the other test targets deselect it, so the bed starts once per `make test`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from _pytest.reports import TestReport
from realkube import RealKube
from realkube_support import Cluster, ControllerNamespace, controller_namespace

ROOT = Path(__file__).resolve().parents[2]


def binaries() -> Path:
    if os.environ.get("REALKUBE_BIN"):
        return Path(os.environ["REALKUBE_BIN"])
    if not shutil.which("go"):
        pytest.skip("the real API server test bed needs the Go toolchain (or REALKUBE_BIN)")
    res = subprocess.run(["sh", str(ROOT / ".ci" / "build-realkube")], capture_output=True,
                         text=True, check=False, timeout=3600)
    if res.returncode != 0:
        raise RuntimeError(f"build-realkube failed: {res.stderr[-2000:]}")
    return Path(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def real_kube() -> Iterator[Cluster]:
    """The control plane; its dir (certs, etcd data, pod dirs, logs) is removed at the end."""
    base = tempfile.mkdtemp(prefix="realkube-")
    try:
        with RealKube(base, bindir=binaries(), controller_manager=True) as rk:
            yield Cluster(rk)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def controller(real_kube: Cluster, tmp_path: Path) -> Iterator[ControllerNamespace]:
    """A new namespace from examples/k8s (enforcing `restricted`) with rbac.yaml applied,
    and gc-session-k8s's environment authenticated as its gc-controller ServiceAccount."""
    yield from controller_namespace(real_kube, tmp_path)


#: How much of the node agent's log a failure report carries (the whole log is copied).
LOG_TAIL_LINES = 300


def failure_sections(cluster: Cluster, keep: Path) -> list[tuple[str, str]]:
    """What a failed test against the bed reports: the cluster's events, the node agent's
    errors and its log's tail, and where a copy of every component's whole log was kept
    (the bed's dir is removed at the end of the session)."""
    shutil.copytree(cluster.rk.logs, keep, dirs_exist_ok=True)
    events = cluster.kubectl("get", "events", "-A", "--sort-by=.lastTimestamp",
                             "-o", "custom-columns=NS:.metadata.namespace,OBJ:.involvedObject.name,"
                                   "TYPE:.type,REASON:.reason,MSG:.message")
    pods = cluster.kubectl("get", "pods", "-A", "-o", "wide")
    lines = (cluster.rk.logs / "node-agent.log").read_text(errors="replace").splitlines()
    errors = [ln for ln in lines if ln.startswith(("E", "W", "F"))]
    return [
        ("realkube logs kept in", str(keep)),
        ("realkube pods", pods.stdout + pods.stderr),
        ("realkube events", events.stdout[-20000:] + events.stderr),
        ("node-agent errors and warnings", "\n".join(errors[-200:])),
        ("node-agent log tail", "\n".join(lines[-LOG_TAIL_LINES:])),
    ]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, TestReport, TestReport]:
    """A failure against the bed keeps its reason: without this the node agent's log and the
    pods' events go with the bed's dir, and a kit FAIL that names only its symptom
    (a start that failed at once) can't be traced to the pod that caused it."""
    rep = yield
    cluster = getattr(item, "funcargs", {}).get("real_kube")
    if rep.failed and rep.when in ("setup", "call") and isinstance(cluster, Cluster):
        keep = Path(tempfile.mkdtemp(prefix="realkube-logs-"))
        try:
            rep.sections.extend(failure_sections(cluster, keep))
        except Exception as e:  # a report must not hide the failure it reports
            rep.sections.append(("realkube diagnostics failed", repr(e)))
    return rep
