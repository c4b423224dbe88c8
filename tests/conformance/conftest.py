"""Fixtures for the kit's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kit_helpers import TmuxIsolation, new_isolation


@pytest.fixture
def tmux_isolation() -> Iterator[TmuxIsolation]:
    isolation = new_isolation()
    yield isolation
    isolation.reap()
