"""How the hostile-caller checks guess a backing object's name from a session name."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from protocol.conformance.checks.callers import SESSION_NAME, fold, related
from protocol.sanitize import pod_name

names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,40}", fullmatch=True)


@given(names)
def test_fold_spells_a_name_as_a_dns_label_would_and_is_stable(name: str) -> None:
    folded = fold(name)
    assert re.fullmatch(r"([a-z0-9]+(-[a-z0-9]+)*)?", folded)
    assert fold(folded) == folded


@given(names)
def test_a_kubernetes_pod_name_of_a_session_counts_as_its_alias(name: str) -> None:
    pod = pod_name(name)
    if pod != name and fold(name):
        assert related(name, pod)
        assert SESSION_NAME.fullmatch(pod)


def test_the_name_itself_and_unrelated_words_are_not_aliases() -> None:
    assert not related("gc-conf-1-Alias-1", "gc-conf-1-Alias-1")
    assert not related("gc-conf-1-Alias-1", "buildhost")
    assert related("Mayor", "mayor-e2001874")
