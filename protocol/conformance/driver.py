"""Call a provider executable exactly as Gas City's Go caller does.

* argv ``<exe> <op> [args...]``, no shell; empty arguments stay real arguments.
* stdin is the given bytes, or ``/dev/null`` when the op has no payload.
* Each op runs in its own process group. On timeout the whole group gets
  SIGTERM, then SIGKILL 2 s later (``execgrace``); after the process exits the
  pipes are read for at most 2 s more (Go's ``WaitDelay``), so a stray
  grandchild holding stdout cannot hang the kit.
* Exit 2 means "operation not implemented"; stdout is trimmed of trailing
  ``\\n`` only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

OP_TIMEOUT = 30.0
START_TIMEOUT = 120.0
WAIT_DELAY = 2.0
NOT_IMPLEMENTED = 2
LONG_OPS = frozenset({"start", "provision"})


class OpResult(NamedTuple):
    """One finished op as the caller sees it."""

    argv: tuple[str, ...]
    exit_code: int  # negative: killed by that signal
    stdout: bytes
    stderr: bytes
    timed_out: bool
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def not_implemented(self) -> bool:
        return self.exit_code == NOT_IMPLEMENTED and not self.timed_out

    @property
    def failed(self) -> bool:
        """A plain error: neither success nor "not implemented"."""
        return not self.ok and not self.not_implemented

    @property
    def output(self) -> str:
        """stdout with trailing ``\\n`` bytes removed (``strings.TrimRight``)."""
        return self.stdout.rstrip(b"\n").decode("utf-8", "replace")

    @property
    def error_text(self) -> str:
        """What Go would put in the error: trimmed stderr, else the exit status."""
        text = self.stderr.decode("utf-8", "replace").strip()
        if text:
            return text
        if self.timed_out:
            return "timed out (canceled)"
        if self.exit_code < 0:
            return f"signal: {signal.Signals(-self.exit_code).name.lower()}"
        return f"exit status {self.exit_code}"

    def describe(self) -> str:
        """An account for check details: what the provider said is never cut.

        The kit's own arguments (long payloads) are shortened; the provider's
        stdout and stderr are kept whole (the terminal report shows the first
        line, ``--json`` and ``--verbose`` all of it). `hints.cause_hint` reads
        the exit status back from this shape: keep them in step.
        """
        shown = " ".join(_short(arg) for arg in self.argv[1:])
        if self.timed_out:
            return f"{shown}: timed out after {self.elapsed:.1f}s"
        if self.ok:
            return f"{shown}: exit 0, stdout {self.output!r}"
        return f"{shown}: exit {self.exit_code}: {self.error_text}"


def _short(text: str, limit: int = 60) -> str:
    """The kit's own long arguments in a detail (never the provider's output)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Provider:
    """A provider executable plus the environment every op inherits."""

    def __init__(
        self,
        command: Sequence[str],
        extra_env: Mapping[str, str] | None = None,
        op_timeout: float = OP_TIMEOUT,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.command = tuple(command)
        self.env = {**os.environ, **(extra_env or {})}
        self.op_timeout = op_timeout
        self.start_timeout = start_timeout

    def run(
        self,
        op: str,
        *args: str,
        stdin: bytes | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        close_stdin: bool = False,
        cancel_when: Callable[[], bool] | None = None,
        cancel_by: float = 0.0,
    ) -> OpResult:
        """Run one op and return what the caller would see.

        ``cwd`` runs it from another directory (a second caller); ``close_stdin``
        runs it with descriptor 0 closed, not ``/dev/null`` (a careless caller);
        ``cancel_when``: past ``timeout``, cancel only once it is true (or at ``cancel_by``
        seconds), so a cancel meant to land mid-way does on a slow machine too.
        """
        if timeout is None:
            timeout = self.start_timeout if op in LONG_OPS else self.op_timeout
        argv = (*self.command, op, *args)
        return run_process(argv, stdin, timeout, {**self.env, **(env or {})}, cwd=cwd, close_stdin=close_stdin,
                           cancel_when=cancel_when, cancel_by=cancel_by)


#: Closes descriptor 0, then becomes the op (same pid, same process group, same argv).
CLOSED_STDIN = ("/bin/sh", "-c", 'exec "$@" <&-', "sh")


def run_process(
    argv: Sequence[str],
    stdin: bytes | None,
    timeout: float,
    env: Mapping[str, str],
    *,
    cwd: str | None = None,
    close_stdin: bool = False,
    cancel_when: Callable[[], bool] | None = None,
    cancel_by: float = 0.0,
) -> OpResult:
    """Run ``argv`` in its own process group with Go's cancellation semantics."""
    began = time.monotonic()
    spawned = [*CLOSED_STDIN, *argv] if close_stdin else list(argv)
    try:
        proc = subprocess.Popen(
            spawned,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None and not close_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            process_group=0,
            close_fds=True,
        )
    except OSError as exc:
        return OpResult(tuple(argv), 127, b"", str(exc).encode(), False, 0.0)
    assert proc.stdout is not None and proc.stderr is not None
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}
    readers = [
        threading.Thread(target=_drain, args=(os.dup(proc.stdout.fileno()), chunks["out"]), daemon=True),
        threading.Thread(target=_drain, args=(os.dup(proc.stderr.fileno()), chunks["err"]), daemon=True),
    ]
    if stdin is not None and not close_stdin:
        readers.append(threading.Thread(target=_feed, args=(proc, stdin), daemon=True))
    for reader in readers:
        reader.start()
    timed_out = still_running(proc, timeout, cancel_when, began + cancel_by)
    if timed_out:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=WAIT_DELAY)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + WAIT_DELAY
    for reader in readers[:2]:
        reader.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - began
    out, err = b"".join(chunks["out"]), b"".join(chunks["err"])
    # A reader still blocked (a grandchild holds the pipe) owns its own dup of
    # the descriptor and closes it at EOF; what it reads later is dropped.
    proc.stdout.close()
    proc.stderr.close()
    return OpResult(tuple(argv), proc.returncode, out, err, timed_out, elapsed)


def still_running(proc: subprocess.Popen[bytes], timeout: float, cancel_when: Callable[[], bool] | None,
                  cancel_by: float) -> bool:
    """Wait ``timeout`` for the process; past it, with ``cancel_when``, until that is true or
    the monotonic ``cancel_by``. True: it still runs and is to be canceled."""
    try:
        proc.wait(timeout=timeout)
        return False
    except subprocess.TimeoutExpired:
        pass
    while cancel_when is not None and not cancel_when() and time.monotonic() < cancel_by:
        try:
            proc.wait(timeout=0.02)
            return False
        except subprocess.TimeoutExpired:
            continue
    return True


def _drain(fd: int, sink: list[bytes]) -> None:
    try:
        while chunk := os.read(fd, 65536):
            sink.append(chunk)
    except OSError:
        pass
    finally:
        os.close(fd)


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Stream:
    """A streaming op (``watch-startup``, ``proc-stream``) as gc runs it: read while it
    runs, then cancel. Its own process group; stdout and stderr read apart, each read a
    frame as gc's 32 KiB reads make them."""

    def __init__(self, argv: Sequence[str], stdin: bytes | None, env: Mapping[str, str]) -> None:
        self.argv = tuple(argv)
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            process_group=0,
            close_fds=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.frames: dict[str, list[bytes]] = {"out": [], "err": []}
        self.changed = threading.Condition()
        self.readers = [
            threading.Thread(target=self._read, args=(os.dup(self.proc.stdout.fileno()), "out"), daemon=True),
            threading.Thread(target=self._read, args=(os.dup(self.proc.stderr.fileno()), "err"), daemon=True),
        ]
        if stdin is not None:
            threading.Thread(target=_feed, args=(self.proc, stdin), daemon=True).start()
        for reader in self.readers:
            reader.start()
        self.cancelled = False

    def _read(self, fd: int, which: str) -> None:
        try:
            while chunk := os.read(fd, 32 * 1024):
                with self.changed:
                    self.frames[which].append(chunk)
                    self.changed.notify_all()
        except OSError:
            pass
        finally:
            os.close(fd)
            with self.changed:
                self.changed.notify_all()

    @property
    def stdout(self) -> bytes:
        with self.changed:
            return b"".join(self.frames["out"])

    @property
    def stderr(self) -> bytes:
        with self.changed:
            return b"".join(self.frames["err"])

    def wait_for(self, seen: Callable[[bytes], bool], timeout: float) -> bool:
        """Wait until ``seen(stdout so far)`` holds, the op ends, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                if seen(b"".join(self.frames["out"])):
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not any(r.is_alive() for r in self.readers)):
                    return seen(b"".join(self.frames["out"]))
                self.changed.wait(min(left, 0.1))

    def running(self) -> bool:
        return self.proc.poll() is None

    def cancel(self, sig: signal.Signals = signal.SIGKILL, *, group: bool = False) -> None:
        """Cancel as gc does: its context kills the op's process (the leader only)."""
        self.cancelled = True
        try:
            os.killpg(self.proc.pid, sig) if group else self.proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def finish(self, timeout: float) -> OpResult:
        """Wait for the op (SIGKILL at ``timeout``), then read the pipes for WaitDelay."""
        began = time.monotonic()
        timed_out = False
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        deadline = time.monotonic() + WAIT_DELAY
        for reader in self.readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()
        return OpResult(self.argv, self.proc.returncode, self.stdout, self.stderr, timed_out,
                        time.monotonic() - began)


def stream(provider: Provider, op: str, *args: str, stdin: bytes | None = None,
           env: Mapping[str, str] | None = None) -> Stream:
    return Stream((*provider.command, op, *args), stdin, {**provider.env, **(env or {})})
