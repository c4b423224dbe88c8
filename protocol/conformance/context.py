"""Per-run state shared by all checks: provider, names, work dirs, cleanup."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from protocol.conformance.driver import OpResult, Provider
from protocol.conformance.gojson import StartConfig, encode_start_config
from protocol.conformance.model import required

#: What ``Kit.started`` gives each session: one config for all, a factory called
#: once per session (a fresh work_dir each), or None for the kit's default.
Configs = StartConfig | Callable[[], StartConfig] | None


class Options(NamedTuple):
    """Run options (CLI flags / pytest options)."""

    session_prefix: str = ""
    cold_start_threshold_ms: float | None = None
    workers: int = 4
    #: A shell command printing the name(s) of session ``$1``'s backing object
    #: (a pod, a container): GC-STRICT-ISOLATION-003 tries each as a session name.
    backing_name_command: str = ""
    #: Env entries whose values are paths relative to the caller's directory:
    #: GC-STRICT-ISOLATION-004 runs ops with them from two directories.
    relative_env: tuple[tuple[str, str], ...] = ()
    #: The two caller directories of GC-STRICT-ISOLATION-004 (empty: two fresh ones).
    caller_dirs: tuple[str, ...] = ()
    #: Start (and stop) one session before any check; stop the run if that fails.
    preflight: bool = False


class Handshake(NamedTuple):
    """What the ``protocol`` op answered, as gc would read it."""

    result: OpResult
    version: int
    capabilities: tuple[str, ...]
    error: str  # "" when the handshake is usable

    def declares(self, capability: str) -> bool:
        return not self.error and capability in self.capabilities


def default_prefix() -> str:
    """A unique, tmux-safe session-name prefix for this run."""
    stamp = f"{time.time_ns() // 1_000_000:x}"[-7:]
    return f"gc-conf-{stamp}{os.getpid() % 1000:03d}-"


class Kit:
    """Everything a check needs; tracks every session it starts."""

    def __init__(self, provider: Provider, options: Options | None = None) -> None:
        self.provider = provider
        self.options = options or Options()
        self.prefix = self.options.session_prefix or default_prefix()
        self.root = Path(tempfile.mkdtemp(prefix="gc-conf-"))
        self.handshake: Handshake | None = None
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._live: set[str] = set()
        #: Names whose start succeeded at least once (a refused name is not a session).
        self._started: set[str] = set()
        self.cancelled = threading.Event()
        #: Facts probed once per run (e.g. whether sessions share the kit's host).
        self.facts: dict[str, bool] = {}
        self.facts_lock = threading.Lock()
        #: Sessions cleanup could not stop: (name, what stop said), filled by `cleanup`.
        self.unstopped: list[tuple[str, str]] = []

    def cancel(self) -> None:
        """Refuse further starts (interrupted run); cleanup still stops the rest."""
        self.cancelled.set()

    def name(self, tag: str) -> str:
        """A fresh session name: prefix, tag, sequence number."""
        with self._lock:
            return f"{self.prefix}{tag}-{next(self._counter)}"

    def workdir(self, tag: str = "wd") -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=self.root))

    def default_config(self, command: str = "sleep 300") -> StartConfig:
        """What the upstream checkers send: a fresh work_dir and ``sleep 300``."""
        return StartConfig(work_dir=str(self.workdir()), command=command)

    def run(self, op: str, *args: str, stdin: bytes | None = None) -> OpResult:
        return self.provider.run(op, *args, stdin=stdin)

    def track(self, name: str) -> None:
        """Remember ``name`` so that cleanup stops it."""
        with self._lock:
            self._live.add(name)

    def start(self, name: str, config: StartConfig | None = None, *, cancel_after: float | None = None,
              cancel_when: Callable[[], bool] | None = None, cancel_by: float = 0.0) -> OpResult:
        """``start <name>`` with a Go-encoded config; the name is stopped at cleanup.

        ``cancel_after`` cancels the start as gc does when its context ends: the
        op's process group gets SIGTERM, then SIGKILL 2 s later (``timed_out``); with
        ``cancel_when``, not before that is true (or ``cancel_by`` seconds have passed).
        """
        if self.cancelled.is_set():
            return OpResult(("start", name), 1, b"", b"canceled", False, 0.0)
        self.track(name)
        payload = encode_start_config(config if config is not None else self.default_config())
        result = self.provider.run("start", name, stdin=payload, timeout=cancel_after,
                                   cancel_when=cancel_when, cancel_by=cancel_by)
        if result.ok:
            with self._lock:
                self._started.add(name)
        return result

    @contextmanager
    def started(
        self, *names: str, config: Configs = None, concurrently: bool = False, what: str = "start"
    ) -> Iterator[None]:
        """Sessions a check needs up: every start must succeed, else the check FAILs.

        All of ``names`` are stopped on the way out, whatever happened; a start
        that failed half-way is torn down at once, as gc does.
        """
        with self.stopping(*names):
            for result in self._start_all(names, config, concurrently):
                required(result, what)
            yield

    @contextmanager
    def stopping(self, *names: str) -> Iterator[None]:
        """Stop ``names`` on the way out, whatever happened (and at cleanup if that fails)."""
        for name in names:
            self.track(name)
        try:
            yield
        finally:
            for name in names:
                self.stop(name)

    def _start_all(self, names: tuple[str, ...], config: Configs, concurrently: bool) -> list[OpResult]:
        def one(name: str) -> OpResult:
            return self.start(name, config() if callable(config) else config)

        if not concurrently:
            return [one(name) for name in names]
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            return list(pool.map(one, names))

    def stop(self, name: str) -> OpResult:
        result = self.provider.run("stop", name)
        if result.ok:
            with self._lock:
                self._live.discard(name)
        return result

    def forget(self, name: str) -> None:
        with self._lock:
            self._live.discard(name)

    def _may_be_running(self, name: str) -> bool:
        """After a failed stop: a session that started, or one ``is-running`` does not deny."""
        if name in self._started:
            return True
        running = self.provider.run("is-running", name, timeout=30)
        return running.ok and running.output.strip() != "false"

    def cleanup(self) -> None:
        """Stop every session this run started (in parallel), remove temp dirs.

        Sessions whose stop fails are kept in ``unstopped`` with what stop said;
        a name whose start was refused (and that is-running does not report as
        running) was never a session and is not listed.
        """
        with self._lock:
            names = sorted(self._live)
            self._live.clear()
        if names:
            with ThreadPoolExecutor(max_workers=4) as pool:
                stops = list(pool.map(lambda n: self.provider.run("stop", n, timeout=30), names))
            self.unstopped += [(name, stop.describe()) for name, stop in zip(names, stops, strict=True)
                               if not stop.ok and self._may_be_running(name)]
        shutil.rmtree(self.root, ignore_errors=True)
