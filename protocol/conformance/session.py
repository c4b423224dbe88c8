"""One conformance run from start to report, shared by the CLI and the plugin."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType

from protocol.conformance.context import Kit, Options
from protocol.conformance.driver import Provider
from protocol.conformance.report import SuiteResult
from protocol.conformance.runner import run_units, select


class Run:
    """The outcome of one run: the kit (for its handshake) and the rows."""

    def __init__(self, kit: Kit, rows: list[SuiteResult]) -> None:
        self.kit = kit
        self.rows = rows


def resolve(executable: str) -> str:
    """Like exec.LookPath: a path with ``/`` is used as is, else search PATH."""
    if "/" in executable:
        return os.path.abspath(executable)
    found = shutil.which(executable)
    return found or executable


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--env wants KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise KeyboardInterrupt, so ``finally`` blocks run."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(
    executable: str,
    env: Mapping[str, str] | None = None,
    only: Sequence[str] = (),
    beads: bool = False,
    options: Options | None = None,
) -> Run:
    """Run the selected checks against ``executable``; always cleans up.

    Raises ValueError when ``only`` selects nothing or ``executable`` cannot run.
    """
    units = select(only, beads)
    if not units:
        raise ValueError(f"no checks match --only {' '.join(only)}")
    path = resolve(executable)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise ValueError(f"not an executable file: {executable}")
    provider = Provider([path], env)
    kit = Kit(provider, options)
    rows = run_units(kit, units)
    return Run(kit, rows)
