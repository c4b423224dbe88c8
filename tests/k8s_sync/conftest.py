"""Fixtures for `gc-session-k8s sync`: agent pods on the fake API server, git repos."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from k8s_sync_helpers import NAMESPACE, Pods, git

from protocol.conformance.fakekube.fixtures import KUBECTL_132, FakeKubeEnv


@pytest.fixture
def pods(fake_kube: FakeKubeEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pods]:
    from protocol.conformance.fakekube.backends.local import namespaces_available

    if not namespaces_available():
        pytest.skip("the local fake-kube backend needs root and unshare for /workspace mounts")
    fake_kube.namespace(NAMESPACE)
    monkeypatch.setenv("GC_K8S_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("GC_KUBECTL", KUBECTL_132)
    monkeypatch.delenv("GC_K8S_CONTEXT", raising=False)
    monkeypatch.delenv("GC_K8S_CITY", raising=False)
    root = Path(tempfile.mkdtemp(prefix="gc-sync-test-", dir="/var/tmp"))
    made = Pods(fake_kube, root)
    try:
        yield made
    finally:
        if made.made:  # wait for them to go: the next test reuses the names
            fake_kube.kubectl("-n", NAMESPACE, "delete", "pod", *(p.name for p in made.made),
                              "--grace-period=0", "--timeout=60s")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def base_repo(tmp_path: Path) -> Path:
    """The shared starting point: one commit on main."""
    base = tmp_path / "base"
    base.mkdir()
    git(base, "init", "-q", "-b", "main")
    (base / "README").write_text("base\n")
    (base / ".gitignore").write_text("*.log\n")
    git(base, "add", "-A")
    git(base, "commit", "-q", "-m", "base")
    return base


@pytest.fixture
def local_repo(tmp_path: Path, base_repo: Path) -> Path:
    """The user's clone on the controller, with uncommitted work of its own."""
    local = tmp_path / "local"
    git(tmp_path, "clone", "-q", str(base_repo), str(local))
    (local / "README").write_text("local edit, not committed\n")
    (local / "notes.txt").write_text("untracked local file\n")
    return local


@pytest.fixture
def sync(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``gc-session-k8s sync ARGS`` in-process; (exit code, stdout, stderr)."""
    from gc_session_k8s.sync.command import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run

