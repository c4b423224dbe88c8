"""Fixtures of a city wired to the offline API server (helpers: beads_helpers.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from beads_helpers import KUBECTL, SHARED, City, Scope, make_city


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gc-beads-test-", dir=SHARED))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def kube_env(fake_kube: Any) -> dict[str, str]:
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip(f"{KUBECTL} is not installed")
    fake_kube.namespace("gc")
    env: dict[str, str] = dict(fake_kube.env)
    return env


@pytest.fixture
def bare_city(kube_env: dict[str, str], shared_dir: Path) -> Iterator[City]:
    """A city whose runner pod is not started yet (stopped afterwards)."""
    city = make_city(kube_env, shared_dir)
    try:
        yield city
    finally:
        city.provider.run("stop", env={})


@pytest.fixture(scope="module")
def shared_city(fake_kube_server: Any) -> Iterator[City]:
    """One started city per test module (its runner pod is reused by every test)."""
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip(f"{KUBECTL} is not installed")
    from protocol.conformance.fakekube.fixtures import make_env

    server, base = fake_kube_server
    server.create_namespace("gc")
    path = Path(tempfile.mkdtemp(prefix="gc-beads-shared-", dir=SHARED))
    kenv = make_env(server, os.path.join(base, "beads-" + path.name))
    made = make_city(kenv.env, path)
    try:
        made.ok("start")
        yield made
    finally:
        made.provider.run("stop")
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def store(shared_city: City) -> Scope:
    """An empty store: a new rig scope with its own prefix and database."""
    tag = uuid.uuid4().hex[:6]
    root = shared_city.root / f"rig-{tag}"
    root.mkdir()
    prefix = "r" + tag
    shared_city.ok("init", str(root), prefix, scope=root)
    return Scope(shared_city, root, prefix)


@pytest.fixture
def city(bare_city: City) -> City:
    """A started city with its HQ scope initialized (prefix ``mc``)."""
    bare_city.ok("start")
    bare_city.ok("init", str(bare_city.root), "mc")
    return bare_city
