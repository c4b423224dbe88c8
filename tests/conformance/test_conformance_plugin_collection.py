"""The plugin collects the provider like a test file: real counts, -k, node IDs passed back."""

from __future__ import annotations

import pytest
from kit_helpers import MINIMAL, TmuxIsolation, needs_tmux

from protocol.conformance.runner import select

pytest_plugins = ["pytester"]

CODES = [spec.code for unit in select() for spec in unit.specs]
NUDGE = [code for code in CODES if "nudge" in code.lower()]


def args(isolation: TmuxIsolation, *more: str) -> list[str]:
    return [f"--gc-provider={MINIMAL}", *(f"--gc-provider-env={k}={v}" for k, v in isolation.env().items()),
            "-p", "no:cacheprovider", *more]


def test_collect_only_lists_every_check_as_a_node_of_the_executable(
    pytester: pytest.Pytester, tmux_isolation: TmuxIsolation
) -> None:
    result = pytester.runpytest_subprocess(*args(tmux_isolation, "--collect-only", "-q"))
    lines = [line for line in result.stdout.lines if "::" in line]
    assert len(lines) == len(CODES)
    assert f"{MINIMAL}::RPP-LIFECYCLE-002" in lines


def test_k_deselects_and_the_header_counts_are_true(pytester: pytest.Pytester, tmux_isolation: TmuxIsolation) -> None:
    result = pytester.runpytest_subprocess(*args(tmux_isolation, "--collect-only", "-k", "nudge"))
    result.stdout.fnmatch_lines(
        [f"collected {len(CODES)} items / {len(CODES) - len(NUDGE)} deselected / {len(NUDGE)} selected"])


@needs_tmux
def test_k_nudge_runs_only_the_nudge_checks(pytester: pytest.Pytester, tmux_isolation: TmuxIsolation) -> None:
    result = pytester.runpytest_subprocess(*args(tmux_isolation, "-k", "nudge", "-v"))
    result.assert_outcomes(passed=len(NUDGE), deselected=len(CODES) - len(NUDGE))
    result.stdout.fnmatch_lines(["*gc-session-minimal::GC-STRICT-NUDGE-001 PASSED*"])
    assert "RPP-LIFECYCLE" not in result.stdout.str()


@needs_tmux
def test_a_node_id_passed_back_runs_that_check_alone(pytester: pytest.Pytester, tmux_isolation: TmuxIsolation) -> None:
    result = pytester.runpytest_subprocess(*args(tmux_isolation, f"{MINIMAL}::RPP-LIFECYCLE-005"))
    result.assert_outcomes(passed=1)


def test_a_provider_that_cannot_be_found_is_one_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--gc-provider=no-such-provider-here", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gc-provider: no-such-provider-here: executable file not found in $PATH*"])
