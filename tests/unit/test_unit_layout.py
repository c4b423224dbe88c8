"""The test tree's own rules: test directories are not packages, so basenames must be unique."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_basenames_are_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []


def test_no_test_directory_is_a_package() -> None:
    # An __init__.py would put the checkout on sys.path and hide a broken wheel.
    assert list(TESTS.rglob("__init__.py")) == []
