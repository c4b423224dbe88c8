"""Fixtures of the transport tests (loaded with ``pytest_plugins = ["transport_fixtures"]``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import stop_helper
from transport_support import TOKENS, ensure_pod

from protocol.conformance.fakekube import server as fake_server
from protocol.conformance.fakekube.fixtures import FakeKubeEnv


@pytest.fixture
def seen_auth(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The Authorization header of every exec request the fake server handles from now on."""
    seen: list[str] = []
    original = fake_server._Handler._dispatch

    def spy(self: Any) -> None:
        if "/exec?" in self.path:
            seen.append(self.headers.get("Authorization") or "")
        original(self)

    monkeypatch.setattr(fake_server._Handler, "_dispatch", spy)
    yield seen


@pytest.fixture
def direct_env(fake_kube_tls: FakeKubeEnv, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKubeEnv]:
    """The HTTPS fake with a running pod, GC_K8S_TRANSPORT=direct, a private runtime dir,
    an audit log at tmp_path/audit.jsonl, and the tests' own TOKENS accepted."""
    ensure_pod(fake_kube_tls)
    for token in TOKENS:
        fake_kube_tls.server.accept_token(token)
    monkeypatch.setenv("GC_K8S_TRANSPORT", "direct")
    monkeypatch.setenv("GC_K8S_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("GC_K8S_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield fake_kube_tls
    finally:
        fake_kube_tls.server.forget_tokens()


@pytest.fixture
def helper_env(direct_env: FakeKubeEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKubeEnv]:
    """`direct_env` with GC_K8S_TRANSPORT=helper and a short runtime dir (a unix socket
    path must fit in 107 bytes); whatever helper ran there is stopped afterwards."""
    import shutil
    import tempfile

    where = tempfile.mkdtemp(prefix="gck-", dir="/tmp")
    monkeypatch.setenv("GC_K8S_TRANSPORT", "helper")
    monkeypatch.setenv("GC_K8S_RUNTIME_DIR", where + "/run")
    try:
        yield direct_env
    finally:
        stop_helper(where + "/run")
        shutil.rmtree(where, ignore_errors=True)

