"""Pod names: deterministic, collision-safe, and the hot-path shortcut agrees with pod_name."""

from __future__ import annotations

import random
import string

from gc_session_k8s.naming import list_selector, session_pod
from protocol.sanitize import pod_name


def test_the_fast_path_returns_exactly_what_pod_name_returns() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "-_"
    names = ["mayor", "a--b", "-x", "x-", "Mayor", "a__b", "a" * 63, "a" * 64, "gc-1"]
    names += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 70)))
              for _ in range(2000)]
    for name in names:
        assert session_pod(name) == pod_name(name), name


def test_cities_are_part_of_the_name_and_never_collide() -> None:
    assert session_pod("b--c", "a") != session_pod("c", "a--b")
    assert session_pod("mayor", "alpha") != session_pod("mayor", "beta")
    assert session_pod("mayor", "alpha").startswith("alpha-mayor-")
    assert len(session_pod("x" * 200, "y" * 200)) <= 63


def test_list_running_scopes_by_city_only_when_configured() -> None:
    assert list_selector("") == "app=gc-agent"
    assert list_selector("My City") == "app=gc-agent,gc-city=My-City"
