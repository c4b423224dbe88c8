"""The kit as a pytest plugin (entry point ``pytest11``).

Cheap to import (no typer, no kit modules until asked). Without
``--gc-provider`` it collects nothing. With it, every check ID becomes one
test item (``gc-provider::<ID>``); the kit runs once, on the first item, and
each item reports its verdict: PASS passes, FAIL fails with the detail, SKIP
skips with the reason.

    pytest --gc-provider=./my-provider --gc-provider-env TMUX_TMPDIR=/tmp/x
    pytest --gc-beads=./my-beads-store
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from protocol.conformance.session import Run

_RUNS_KEY = pytest.StashKey[dict[str, "Run"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gc-provider-conformance", "Gas City provider conformance")
    group.addoption(
        "--gc-provider",
        metavar="PATH",
        help="Run the conformance checks against this session provider executable.",
    )
    group.addoption(
        "--gc-provider-env",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="Environment for every provider op (repeatable).",
    )
    group.addoption(
        "--gc-provider-only",
        metavar="GROUP",
        action="append",
        default=[],
        help="Suite or check-ID prefix to run (repeatable).",
    )
    group.addoption(
        "--gc-beads",
        metavar="PATH",
        help="Run the exec beads store checks against this executable.",
    )


@pytest.fixture
def gc_provider(pytestconfig: pytest.Config) -> Any:
    """A ``protocol.conformance.driver.Provider`` for ``--gc-provider`` (skips without it).

    For authors' own tests: ``gc_provider.run("is-running", name)`` calls the
    executable exactly as Gas City does and returns an ``OpResult``.
    """
    path = pytestconfig.getoption("--gc-provider")
    if not path:
        pytest.skip("no --gc-provider given")
    from protocol.conformance.driver import Provider
    from protocol.conformance.session import parse_env, resolve

    return Provider([resolve(path)], parse_env(pytestconfig.getoption("--gc-provider-env")))


class ConformanceItem(pytest.Item):
    """One check ID of one run."""

    def __init__(self, *, executable: str, beads: bool, code: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.executable = executable
        self.beads = beads
        self.code = code

    def runtest(self) -> None:
        from protocol.conformance.model import Status

        run = _run_for(self.config, self.executable, self.beads)
        for suite_result in run.rows:
            result = suite_result.result
            if result.code != self.code:
                continue
            if result.status is Status.SKIP:
                pytest.skip(result.detail or "skipped")
            if result.status is Status.FAIL:
                raise ConformanceFailure(f"{result.code} {result.title}: {result.detail}")
            return
        raise ConformanceFailure(f"{self.code}: no verdict")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return self.executable, None, f"gc-provider::{self.code}"


class ConformanceFailure(Exception):
    """A FAIL verdict."""


def _run_for(config: pytest.Config, executable: str, beads: bool) -> Run:
    from protocol.conformance.session import parse_env, run

    runs = config.stash.setdefault(_RUNS_KEY, {})
    key = f"{beads}:{executable}"
    if key not in runs:
        env = parse_env(config.getoption("--gc-provider-env"))
        runs[key] = run(executable, env, config.getoption("--gc-provider-only"), beads)
    return runs[key]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    targets = [(config.getoption("--gc-provider"), False), (config.getoption("--gc-beads"), True)]
    targets = [(path, beads) for path, beads in targets if path]
    if not targets:
        return
    from protocol.conformance.runner import select

    for path, beads in targets:
        label = "gc-beads" if beads else "gc-provider"
        items.extend(
            ConformanceItem.from_parent(
                session, name=f"{label}::{spec.code}", executable=path, beads=beads, code=spec.code
            )
            for unit in select(config.getoption("--gc-provider-only"), beads)
            for spec in unit.specs
        )
