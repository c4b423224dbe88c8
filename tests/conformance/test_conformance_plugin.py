"""The pytest plugin: nothing without --gc-provider; one item per check ID with it."""

from __future__ import annotations

import pytest
from kit_helpers import MINIMAL, TmuxIsolation, needs_tmux

pytest_plugins = ["pytester"]


def test_without_the_option_the_plugin_collects_nothing(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    assert "no tests collected" in result.stdout.str()


def test_the_plugin_registers_its_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    for option in ("--gc-provider=PATH", "--gc-provider-env", "--gc-beads=PATH"):
        assert option in result.stdout.str()


def test_importing_the_plugin_does_not_import_typer() -> None:
    import subprocess
    import sys

    code = "import protocol.conformance.plugin, sys; print('typer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_tmux
@pytest.mark.slow
def test_with_the_option_each_check_is_an_item_with_its_verdict(
    pytester: pytest.Pytester, tmux_isolation: TmuxIsolation
) -> None:
    env_args = [f"--gc-provider-env={k}={v}" for k, v in tmux_isolation.env().items()]
    result = pytester.runpytest_subprocess(
        f"--gc-provider={MINIMAL}",
        *env_args,
        "--gc-provider-only=rpp",
        "-v",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=6, skipped=3)  # exec, provision, proc-stream: not offered
    result.stdout.fnmatch_lines(["*gc-session-minimal::RPP-LIFECYCLE-002 PASSED*",
                                 "*gc-session-minimal::RPP-CONN-001 SKIPPED*"])


def test_the_gc_provider_fixture_drives_the_given_executable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_drive(gc_provider):
            assert gc_provider.run("gc-conformance-no-such-op", "x").not_implemented
        """
    )
    result = pytester.runpytest_subprocess(
        f"--gc-provider={MINIMAL}", "--gc-provider-only=GC-STRICT-USAGE-004", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)


@needs_tmux
@pytest.mark.slow
def test_the_relative_env_option_reaches_the_two_callers_check(
    pytester: pytest.Pytester, tmux_isolation: TmuxIsolation
) -> None:
    env_args = [f"--gc-provider-env={k}={v}" for k, v in tmux_isolation.env().items()]
    result = pytester.runpytest_subprocess(
        f"--gc-provider={MINIMAL}",
        *env_args,
        "--gc-provider-relative-env=GC_MINIMAL_TMUX_SOCKET=./s",
        "--gc-provider-only=GC-STRICT-ISOLATION-004",
        "-v",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1)
