"""The kubectl versions every kubectl test of the offline server runs with (the ``kubectl``
fixture in conftest.py is parametrized over them)."""

from __future__ import annotations

from typing import NamedTuple


class Kubectl(NamedTuple):
    version: str


KUBECTLS = [Kubectl("1.32"), Kubectl("1.37")]
