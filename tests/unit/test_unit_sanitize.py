"""Kubernetes names and labels, pinned to upstream's golden tables."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from protocol.sanitize import label_value, pod_name, sanitize_label, sanitize_name


class Case(NamedTuple):
    test_id: str
    raw: str
    expected: str


# gascity internal/runtime/k8s/name_test.go (session-protocol.md §5.5 row 76).
NAME_CASES = [
    Case("already-valid", "gc-bright-mayor", "gc-bright-mayor"),
    Case("upper-case", "UPPER-CASE", "upper-case"),
    Case("spaces", "has spaces", "has-spaces"),
    Case("slashes", "has/slashes/in/path", "has-slashes-in-path"),
    Case("underscores", "under_scores", "under-scores"),
    Case("leading-dashes", "--leading-dashes", "leading-dashes"),
    Case("trailing-dashes", "trailing-dashes--", "trailing-dashes"),
    Case("dots", "dots.are.replaced", "dots-are-replaced"),
    Case("single", "a", "a"),
    Case("empty", "", ""),
    Case("seventy", "x" * 70, "x" * 63),
    # Divergence: the bash script gives "" (an invalid manifest); we follow Go.
    Case("nothing-survives-go-side", "!!!", "unknown"),
    Case("gas-town-style", "gastown__mayor", "gastown--mayor"),
]

# gascity name_test.go label table (row 77) plus the script's examples (§4.3).
LABEL_CASES = [
    Case("upper-preserved", "UPPER-Preserved", "UPPER-Preserved"),
    Case("dots-ok", "dots.ok", "dots.ok"),
    Case("underscores-ok", "under_scores_ok", "under_scores_ok"),
    Case("spaces", "has spaces", "has-spaces"),
    Case("slashes", "has/slashes", "has-slashes"),
    Case("leading", "--leading", "leading"),
    Case("trailing", "trailing--", "trailing"),
    Case("empty", "", "unknown"),
    Case("only-slashes", "///", "unknown"),
    Case("script-a-b-c", "A_B.c", "A_B.c"),
    Case("script-hidden", ".hidden", "hidden"),
    # Divergence: Go keeps non-ASCII letters (an invalid label); we replace them.
    Case("non-ascii-replaced", "café", "caf"),
]


@pytest.mark.parametrize(list(Case._fields), NAME_CASES, ids=[c.test_id for c in NAME_CASES])
def test_sanitize_name_matches_upstream(test_id: str, raw: str, expected: str) -> None:
    assert sanitize_name(raw) == expected


@pytest.mark.parametrize(list(Case._fields), LABEL_CASES, ids=[c.test_id for c in LABEL_CASES])
def test_sanitize_label_matches_upstream(test_id: str, raw: str, expected: str) -> None:
    assert sanitize_label(raw) == expected


def test_pod_name_keeps_lossless_names() -> None:
    assert pod_name("gc-bright-mayor") == "gc-bright-mayor"


@pytest.mark.parametrize(("a", "b"), [("Mayor", "mayor"), ("a__b", "a--b"), ("x" * 70, "x" * 71)])
def test_pod_name_never_collides_when_sanitizing_is_lossy(a: str, b: str) -> None:
    assert sanitize_name(a) == sanitize_name(b) or len(a) > 63
    assert pod_name(a) != pod_name(b)
    assert len(pod_name(a)) <= 63 and len(pod_name(b)) <= 63


def test_pod_name_is_deterministic_and_a_dns_label() -> None:
    name = pod_name("Gastown__Mayor/with spaces")
    assert name == pod_name("Gastown__Mayor/with spaces")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert name[0].isalnum() and name[-1].isalnum()


def test_label_value_hashes_only_when_lossy() -> None:
    assert label_value("gastown__mayor") == "gastown__mayor"
    assert label_value("a b") != label_value("a/b")
