"""The kit as a pytest plugin, registered by the ``pytest11`` entry module
(``gc_provider_conformance_plugin``, which owns the options and the
``gc_provider`` fixture) only when ``--gc-provider`` or ``--gc-beads`` is given.

Cheap to import (no typer, no kit modules until asked). Without
``--gc-provider`` it is not even loaded. With it, the executable is collected
like a test file: a real `pytest.File` collector whose items are its check
IDs, so the node IDs are ``<path>::<ID>`` (pass them back to pytest), and
``-k``, ``--lf``, ``--deselect`` and the collected/selected counts behave as for
any test. The checks that remain selected run once, in the background and in
parallel, from the first item on; each item reports its own verdict as it
arrives (PASS passes, FAIL fails with the detail and the usual fix, SKIP skips
with the reason), so the progress you see is real.

    pytest --gc-provider=./my-provider --gc-provider-env TMUX_TMPDIR=/tmp/x
    pytest --gc-provider=./my-provider -k nudge
    pytest ./my-provider::GC-STRICT-NUDGE-001 --gc-provider=./my-provider
    pytest --gc-beads=./my-beads-store
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from protocol.conformance.context import Kit
    from protocol.conformance.report import SuiteResult

_TARGETS_KEY = pytest.StashKey[dict[Path, bool]]()
_SEEN_KEY = pytest.StashKey[set[Path]]()
_RUNS_KEY = pytest.StashKey[list["Background"]]()


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the targets (as gc resolves exec:<name>) and add them to what pytest collects."""
    targets: dict[Path, bool] = {}
    for option, beads in (("--gc-provider", False), ("--gc-beads", True)):
        given = config.getoption(option)
        if not given:
            continue
        from protocol.conformance.session import resolve

        try:
            targets[Path(resolve(given))] = beads
        except ValueError as error:
            raise pytest.UsageError(f"{option}: {error}") from None
    config.stash[_TARGETS_KEY] = targets
    config.stash[_SEEN_KEY] = set()
    named = {Path(arg.split("::", 1)[0]).resolve() for arg in config.args}
    config.args.extend(str(path) for path in targets if path not in named)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Name every session a run could not stop (its ``stop`` failed), with what ``stop`` said."""
    for background in config.stash.get(_RUNS_KEY, []):
        background.thread.join(120)  # the run's cleanup follows its last verdict
        for name, said in background.kit.unstopped:
            terminalreporter.write_line(f"gc-provider-conformance: could not stop session {name!r}: {said}",
                                        red=True)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ProviderFile | None:
    targets = parent.config.stash.get(_TARGETS_KEY, {})
    path = file_path.resolve()
    if path not in targets:
        return None
    seen = parent.config.stash[_SEEN_KEY]
    if path in seen:  # reached both by a directory walk and as an argument
        return None
    seen.add(path)
    # The node ID is a path pytest takes back as an argument: relative to the
    # rootdir when the executable is inside it, else absolute.
    root = parent.config.rootpath
    nodeid = str(file_path.relative_to(root)) if file_path.is_relative_to(root) else str(path)
    return ProviderFile.from_parent(parent, path=file_path, nodeid=nodeid, beads=targets[path])


class ProviderFile(pytest.File):
    """A provider executable, collected as a file of check IDs."""

    def __init__(self, *, beads: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.beads = beads
        self.background: Background | None = None

    def collect(self) -> list[ConformanceItem]:
        from protocol.conformance.runner import select

        return [ConformanceItem.from_parent(self, name=spec.code)
                for unit in select(self.config.getoption("--gc-provider-only"), self.beads)
                for spec in unit.specs]

    def verdicts(self) -> Background:
        """The background run of this file's selected checks, started on first use."""
        if self.background is None:
            codes = [item.name for item in self.session.items
                     if isinstance(item, ConformanceItem) and item.parent is self]
            self.background = Background(self.config, self.path, self.beads, codes)
            self.config.add_cleanup(self.background.stop)
            self.config.stash.setdefault(_RUNS_KEY, []).append(self.background)
        return self.background


class Background:
    """Runs the selected checks in a thread; each verdict is waited for by code."""

    def __init__(self, config: pytest.Config, path: Path, beads: bool, codes: list[str]) -> None:
        from protocol.conformance.context import Kit, Options
        from protocol.conformance.driver import Provider
        from protocol.conformance.runner import select
        from protocol.conformance.session import parse_env

        self.rows: dict[str, SuiteResult] = {}
        self.arrived = threading.Condition()
        self.finished = False
        self.error = ""
        options = Options(
            backing_name_command=config.getoption("--gc-provider-backing-name-command"),
            relative_env=tuple(parse_env(config.getoption("--gc-provider-relative-env")).items()),
            caller_dirs=tuple(config.getoption("--gc-provider-caller-dir")),
        )
        self.kit: Kit = Kit(Provider([str(path)], parse_env(config.getoption("--gc-provider-env"))), options)
        self.thread = threading.Thread(target=self._run, args=(select(codes, beads),), daemon=True)
        self.thread.start()

    def _run(self, units: Any) -> None:
        from protocol.conformance.runner import run_units

        try:
            run_units(self.kit, units, self._arrive)
        except BaseException as error:  # reported by every item still waiting
            self.error = f"{type(error).__name__}: {error}"
        finally:
            with self.arrived:
                self.finished = True
                self.arrived.notify_all()

    def _arrive(self, row: SuiteResult, seconds: float) -> None:
        with self.arrived:
            self.rows[row.result.code] = row
            self.arrived.notify_all()

    def wait(self, code: str) -> SuiteResult | None:
        with self.arrived:
            while code not in self.rows and not self.finished:
                self.arrived.wait(0.5)
            return self.rows.get(code)

    def stop(self) -> None:
        """End of the session (Ctrl-C included): refuse new starts, let the run clean up."""
        self.kit.cancel()
        self.thread.join()


class ConformanceItem(pytest.Item):
    """One check ID of one provider executable."""

    parent: ProviderFile

    def runtest(self) -> None:
        from protocol.conformance.hints import hint
        from protocol.conformance.model import Status

        background = self.parent.verdicts()
        row = background.wait(self.name)
        if row is None:
            raise ConformanceFailure(f"{self.name}: no verdict ({background.error or 'the run ended early'})")
        result = row.result
        if result.status is Status.SKIP:
            pytest.skip(result.detail or "skipped")
        if result.status is Status.FAIL:
            fix = f"\nfix: {hint(result.code, result.detail)}" if hint(result.code, result.detail) else ""
            raise ConformanceFailure(f"{result.code} {result.title}: {result.detail}{fix}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class ConformanceFailure(Exception):
    """A FAIL verdict."""
