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
from protocol.conformance.runner import Interrupted, OnResult, run_units, select


class Run:
    """The outcome of one run: the kit (for its handshake), the rows and each check's seconds."""

    def __init__(self, kit: Kit, rows: list[SuiteResult], durations: dict[str, float] | None = None,
                 interrupted: bool = False, preflight: str = "") -> None:
        self.kit = kit
        self.rows = rows
        self.durations = durations or {}
        self.interrupted = interrupted
        #: Why the preflight start failed ('' when it passed or did not run); then no check ran.
        self.preflight = preflight

    @property
    def unstopped(self) -> list[tuple[str, str]]:
        """Sessions the kit started and could not stop: (name, what stop said)."""
        return self.kit.unstopped


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) mid-run: ``run`` holds every verdict reached before it."""

    def __init__(self, run: Run) -> None:
        super().__init__()
        self.run = run


def resolve(executable: str) -> str:
    """Like Go's exec.LookPath, which gc uses for ``exec:<name>``.

    A name with ``/`` is a path (relative to the current directory); a bare
    name is looked up on PATH only, never in the current directory. Raises
    ValueError with one line when nothing runnable is found.
    """
    if "/" in executable:
        path = os.path.abspath(executable)
        if not os.path.exists(path):
            raise ValueError(f"{executable}: no such file")
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            raise ValueError(f"{executable}: not an executable file (chmod +x?)")
        return path
    found = shutil.which(executable)
    if found:
        return os.path.abspath(found)
    hint = f"; for the file in this directory use ./{executable}" if os.path.isfile(executable) else ""
    raise ValueError(f"{executable}: executable file not found in $PATH (gc resolves "
                     f"exec:{executable} the same way){hint}")


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


def preflight(kit: Kit) -> str:
    """Start and stop one session as the checks will; '' if start works, else what it said.

    Every session check needs a working ``start``: when the environment is
    wrong (an image, a cluster, a socket missing) the run stops here with the
    provider's own reason instead of failing and skipping dozens of checks.
    """
    name = kit.name("preflight")
    with kit.stopping(name):
        started = kit.start(name)
    if started.ok:
        return ""
    return f"start: {started.describe()}"


def run(
    executable: str,
    env: Mapping[str, str] | None = None,
    only: Sequence[str] = (),
    beads: bool = False,
    options: Options | None = None,
    on_result: OnResult | None = None,
) -> Run:
    """Run the selected checks against ``executable``; always cleans up.

    Raises ValueError when ``only`` selects nothing or ``executable`` cannot
    run, and `RunInterrupted` (with the verdicts so far) on Ctrl-C or SIGTERM.
    """
    units = select(only, beads)
    if not units:
        raise ValueError(f"no checks match --only {' '.join(only)}")
    kit = Kit(Provider([resolve(executable)], env), options)
    if kit.options.preflight and any(u.specs[0].suite != "beads" for u in units):
        why = preflight(kit)
        if why:
            kit.cleanup()
            return Run(kit, [], {}, preflight=why)
    durations: dict[str, float] = {}
    try:
        rows = run_units(kit, units, on_result, durations)
    except Interrupted as stop:
        raise RunInterrupted(Run(kit, stop.rows, stop.durations, interrupted=True)) from None
    return Run(kit, rows, durations)
