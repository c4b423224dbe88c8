"""Fixtures of gc-session-k8s against the offline API server (helpers: k8s_helpers.py)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import stop_helper
from k8s_helpers import K8s, provider_on


@pytest.fixture
def k8s(fake_kube: Any, tmp_path: Path) -> Iterator[K8s]:
    yield from provider_on(fake_kube, tmp_path)


@pytest.fixture
def helper(k8s: K8s) -> Iterator[dict[str, str]]:
    """The helper transport with a private runtime dir; the helper is up before the test."""
    where = tempfile.mkdtemp(prefix="gck-", dir="/tmp")  # short: the helper's socket lives here
    env = {"GC_K8S_TRANSPORT": "helper", "GC_K8S_RUNTIME_DIR": where + "/run"}
    k8s.env.update(env)
    k8s.run("is-running", "warm-up")  # starts the helper (this op goes direct)
    deadline = time.monotonic() + 30
    while k8s.run("helper", "status").value == "helper: not running":
        assert time.monotonic() < deadline, "the helper did not start"
        time.sleep(0.05)
    try:
        yield env
    finally:
        stop_helper(env["GC_K8S_RUNTIME_DIR"])
        shutil.rmtree(where, ignore_errors=True)
