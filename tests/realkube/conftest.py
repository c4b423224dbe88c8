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
from collections.abc import Iterator
from pathlib import Path

import pytest
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
