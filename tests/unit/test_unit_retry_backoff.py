"""The retry pauses are a setting: GC_K8S_RETRY_BACKOFF, the production pauses when unset or bad."""

from __future__ import annotations

import pytest

from providers.kube import retry


def test_unset_the_pauses_are_the_production_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GC_K8S_RETRY_BACKOFF", raising=False)
    assert retry.backoff() == retry.BACKOFF == (0.25, 0.75, 1.5)
    assert [retry.pause_before(n) for n in range(4)] == [0.25, 0.75, 1.5, None]


def test_the_setting_gives_the_pauses_and_their_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GC_K8S_RETRY_BACKOFF", "0.01,0.5")
    assert [retry.pause_before(n) for n in range(3)] == [0.01, 0.5, None]


@pytest.mark.parametrize("raw", ["", "fast", "0.1,,0.2", "-1", "0.1,31"])
def test_an_empty_or_bad_setting_is_the_production_pauses(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("GC_K8S_RETRY_BACKOFF", raw)
    assert retry.backoff() == retry.BACKOFF
