"""fakekube tests: the fixtures come from protocol.fakekube.fixtures (tests/conftest.py
loads the plugin); this file adds the end-of-session leak check."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from protocol.fakekube.fixtures import ENV_DIRS
from protocol.fakekube.leaks import leftovers
from protocol.fakekube.server import FakeKube


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """Once the session's fake servers have stopped, none of their pod processes,
    tmux servers, containers or temporary directories remain."""
    yield
    for server in FakeKube.instances:
        server.stop()  # idempotent: normally the server fixtures already did it
    found = leftovers()
    env_dirs = [d for d in ENV_DIRS if os.path.exists(d)]
    if env_dirs:
        found["fixture dirs"] = env_dirs
    assert not found, f"fakekube left behind: {found}"
