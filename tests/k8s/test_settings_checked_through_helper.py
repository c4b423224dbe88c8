"""An invalid setting is refused the same way when the helper would have answered the read."""

from __future__ import annotations

from k8s_helpers import K8s


def test_an_invalid_setting_is_exit_1_even_with_the_helper_up(k8s: K8s, helper: dict[str, str]) -> None:
    res = k8s.run("is-running", k8s.name(), env={"GC_K8S_HELPER_CACHE_MS": "1s"})
    assert res.rc == 1, res.out + res.err
    said = ("gc-session-k8s is-running: invalid GC_K8S_HELPER_CACHE_MS='1s': "
            "want a whole number of milliseconds, 0 or more")
    assert res.err.strip().splitlines() == [said]
