"""Pod names: deterministic, collision-safe, and the hot-path shortcut agrees with pod_name."""

from __future__ import annotations

import random
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from gc_session_k8s.naming import city_label, is_own_pod, list_selector, session_pod
from protocol.sanitize import pod_name


def test_the_fast_path_returns_exactly_what_pod_name_returns() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "-_"
    names = ["mayor", "a--b", "-x", "x-", "Mayor", "a__b", "a" * 63, "a" * 64, "gc-1",
             "mayor-e2001874", "a-12345678", "-12345678", "a-1234567g", "ab12345678"]
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
    assert list_selector("alpha") == "app=gc-agent,gc-city=alpha"
    assert list_selector("My City").startswith("app=gc-agent,gc-city=My-City-")  # lossy: hashed


# Session names (`protocol.names.session_name`) and city scopes (any text).
NAMES = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=80).filter(
    lambda n: not n.startswith("-"))
CITIES = st.one_of(st.just(""), st.text(min_size=1, max_size=90))


@given(NAMES, CITIES)
@settings(max_examples=400, deadline=None)
def test_a_name_equal_to_another_sessions_pod_maps_to_a_pod_of_its_own(name: str, city: str) -> None:
    pod = session_pod(name, city)
    if pod != name:
        assert session_pod(pod) != pod  # `mayor-e2001874` never reaches `Mayor`'s pod
        assert session_pod(pod, city) != pod


@given(NAMES, NAMES, CITIES, CITIES)
@settings(max_examples=400, deadline=None)
def test_distinct_sessions_or_cities_never_share_a_pod(a: str, b: str, ca: str, cb: str) -> None:
    if (a, ca) != (b, cb):
        assert session_pod(a, ca) != session_pod(b, cb)


def test_the_reported_collision_is_gone() -> None:
    assert session_pod("Mayor") == "mayor-e2001874"
    assert session_pod("mayor-e2001874") != "mayor-e2001874"
    assert session_pod("mayor-e2001874") == session_pod("mayor-e2001874")  # deterministic


@given(st.text(min_size=1, max_size=150), st.text(min_size=1, max_size=150))
@settings(max_examples=400, deadline=None)
def test_city_labels_are_injective_and_valid(a: str, b: str) -> None:
    la, lb = city_label(a), city_label(b)
    assert len(la) <= 63 and la[0].isalnum() and la[-1].isalnum()
    if a != b:
        assert la != lb
    if la != a:
        assert city_label(la) != la  # a city named like another's label gets its own


def test_cities_that_sanitizing_or_cutting_merged_get_distinct_labels() -> None:
    assert city_label("acme/blue") != city_label("acme-blue")
    assert city_label("acme-blue") == "acme-blue"
    long = "c" * 63
    assert city_label(long + "x") != city_label(long + "y") != city_label(long)
    assert city_label(long) == long


def test_a_pod_is_its_sessions_own_only_in_its_city() -> None:
    assert is_own_pod(session_pod("w1", "acme"), "w1", "acme", "acme")
    assert not is_own_pod(session_pod("w1", "acme"), "w1", "acme", "acme-2")
    assert not is_own_pod(session_pod("w1", "acme/blue"), "w1", "acme-blue", "acme-blue")
    assert not is_own_pod(session_pod("Mayor"), "mayor-e2001874", "", "")
    assert is_own_pod("w1", "w1", "", "")
    assert not is_own_pod(session_pod("w1", "acme"), "w1", "", "acme")  # another scope's pod
