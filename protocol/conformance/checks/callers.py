"""Strict checks for what a hostile or careless caller found (suite ``strict``).

Each class broke Gas City's own providers once, through state that did not
know who was asking: a session named like another session's backing object
(a pod's hashed name is itself a valid session name), two callers whose
relative configuration means different targets (a path resolved against the
first caller's directory), a closed stdin, tmux format characters in a
``work_dir``, and a SIGTERM that lands while start types the config's nudge.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from protocol.conformance.caller import reads_true, split_list
from protocol.conformance.checks.hardening import one_line_error, running
from protocol.conformance.checks.strict import observable, sh_command, wait_for_file
from protocol.conformance.context import Kit
from protocol.conformance.driver import OpResult
from protocol.conformance.gojson import StartConfig, encode_start_config
from protocol.conformance.model import fail, skip
from protocol.conformance.registry import Unit, strict_registrar

UNITS: list[Unit] = []


strict = strict_registrar(UNITS)


#: A Gas City session name (``protocol.names``): what the kit may try as an alias.
SESSION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,199}")
TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def fold(name: str) -> str:
    """How a backend that allows fewer characters tends to spell a name: lower case, runs of others as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- a session named like another session's backing object ----------------------------

WHERE = "gc-conf-where:"


def related(owner: str, token: str) -> bool:
    """Does ``token`` look derived from ``owner`` (its folded spelling, maybe plus a suffix)?"""
    stem = fold(owner)[:40]
    return bool(stem) and token != owner and fold(token).startswith(stem)


def exposed_names(kit: Kit, owner: str) -> list[str]:
    """Identifiers of ``owner``'s box as the session itself sees them: its hostname.

    A pod's hostname is its name. Read from the pane (``peek``); none when peek
    is not implemented or the line never shows.
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen = kit.run("peek", owner, "50")
        if seen.not_implemented:
            return []
        for line in seen.output.splitlines():
            if line.startswith(WHERE):
                return [t for t in TOKEN.findall(line[len(WHERE) :]) if related(owner, t)]
        time.sleep(0.2)
    return []


def declared_names(kit: Kit, owner: str) -> list[str]:
    """What ``--backing-name-command`` prints for ``owner`` (one name a line)."""
    command = kit.options.backing_name_command
    if not command:
        return []
    done = subprocess.run(
        ["/bin/sh", "-c", command, "sh", owner],
        env=kit.provider.env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip()
        raise fail(f"--backing-name-command exited {done.returncode} for {owner!r}: {said}")
    return [line.strip() for line in done.stdout.decode("utf-8", "replace").splitlines() if line.strip()]


def alias_candidates(kit: Kit, owner: str) -> dict[str, str]:
    """Names another session could have that a backend might map onto ``owner``'s object, with where each came from."""
    found: dict[str, str] = {}
    for name in (owner.lower(), owner.upper(), fold(owner)):
        found.setdefault(name, "case")
    for name in exposed_names(kit, owner):
        found.setdefault(name, "hostname")
    for name in declared_names(kit, owner):
        found.setdefault(name, "--backing-name-command")
    return {name: why for name, why in found.items() if name != owner and SESSION_NAME.fullmatch(name)}


ALIAS_KEY = "gc_conf_alias"


@strict(
    "GC-STRICT-ISOLATION-003",
    "isolation",
    "a session named like another session's backing object (case, hostname, pod name) never reaches it",
)
def backing_alias(kit: Kit) -> str:
    owner = kit.name("Alias")
    value = secrets.token_hex(6)
    script = f'printf "{WHERE} %s %s\\n" "$(hostname 2>/dev/null)" "${{HOSTNAME-}}"; exec sleep 300'
    config = StartConfig(work_dir=str(kit.workdir("alias")), command=sh_command(script))
    with kit.started(owner, config=config):
        has_meta = kit.run("set-meta", owner, ALIAS_KEY, stdin=value.encode()).ok
        candidates = alias_candidates(kit, owner)
        problems: list[str] = []
        for alias in candidates:
            with kit.stopping(alias):
                problems += alias_problems(kit, owner, alias, value if has_meta else "")
            if not running(kit, owner):
                problems.append(f"stopping {alias!r} stopped {owner!r}")
            if problems:
                raise fail("; ".join(problems))
    sources = sorted(set(candidates.values()))
    return f"{len(candidates)} names tried ({', '.join(sources)})"


def alias_problems(kit: Kit, owner: str, alias: str, value: str) -> list[str]:
    """How ops on ``alias`` (never started) reached ``owner``'s session."""
    problems = []
    if running(kit, alias):
        problems.append(f"is-running {alias!r} answered true (only {owner!r} was started)")
    found = kit.run("process-alive", alias, stdin=b"sleep")
    if found.ok and reads_true(found.output):
        problems.append(f"process-alive {alias!r} found {owner!r}'s sleep")
    if value:
        if kit.run("get-meta", alias, ALIAS_KEY).output == value:
            problems.append(f"get-meta {alias!r} read {owner!r}'s meta")
        kit.run("set-meta", alias, ALIAS_KEY, stdin=b"overwritten")
        kit.run("remove-meta", alias, ALIAS_KEY)
        if (got := kit.run("get-meta", owner, ALIAS_KEY).output) != value:
            problems.append(f"set-meta/remove-meta {alias!r} changed {owner!r}'s meta to {got!r}")
    kit.run("stop", alias)
    if not running(kit, owner):
        problems.append(f"stop {alias!r} stopped {owner!r}")
        return problems
    start = kit.start(alias, kit.default_config())
    if start.ok:
        if not running(kit, alias):
            problems.append(f"start {alias!r} exited 0 but is-running {alias!r} is false")
        kit.stop(alias)
    elif start.exit_code != 1:
        problems.append(f"start {alias!r}: {start.describe()}")
    if value and (got := kit.run("get-meta", owner, ALIAS_KEY).output) != value:
        problems.append(f"start/stop of {alias!r} changed {owner!r}'s meta to {got!r}")
    return problems


# --- two callers whose relative configuration means different targets ------------------


class Caller:
    """Ops run from one directory with the relative env entries."""

    def __init__(self, kit: Kit, directory: str, env: Mapping[str, str]) -> None:
        self.kit = kit
        self.directory = directory
        self.env = env

    def run(self, op: str, *args: str, stdin: bytes | None = None) -> OpResult:
        return self.kit.provider.run(op, *args, stdin=stdin, env=self.env, cwd=self.directory)

    def start(self, name: str, config: StartConfig) -> OpResult:
        return self.run("start", name, stdin=encode_start_config(config))

    def running(self, name: str) -> bool:
        return reads_true(self.run("is-running", name).output)

    def meta(self, name: str) -> str:
        return self.run("get-meta", name, CALLER_KEY).output


CALLER_KEY = "gc_conf_caller"
TICKS = 5


@strict(
    "GC-STRICT-ISOLATION-004",
    "isolation",
    "two callers whose relative configuration means different targets never reach each other's sessions",
)
def relative_callers(kit: Kit) -> str:
    env = dict(kit.options.relative_env)
    if not env:
        raise skip("no --relative-env given: the kit does not know which setting holds a path relative to the caller")
    dirs = kit.options.caller_dirs or (str(kit.workdir("caller-a")), str(kit.workdir("caller-b")))
    if len(dirs) != 2:
        raise fail(f"--caller-dir wants two directories, got {len(dirs)}")
    first, second = (Caller(kit, d, env) for d in dirs)
    name = kit.name("caller")
    value = secrets.token_hex(6)
    try:
        started = first.start(name, kit.default_config())
        if not started.ok:
            return refused_relative(kit, started)
        # A few ticks of reads from the first directory, as gc makes them: whatever
        # a provider keeps resident (a helper, a cache) is set up by this caller.
        for _ in range(TICKS):
            if not first.running(name):
                raise fail("the first caller does not see the session it started")
            time.sleep(0.2)
        has_meta = first.run("set-meta", name, CALLER_KEY, stdin=value.encode()).ok
        problems = second_caller_problems(first, second, name, value if has_meta else "")
        if problems:
            raise fail("; ".join(problems))
    finally:
        for caller in (second, first):
            caller.run("stop", name)
    return f"{' '.join(f'{k}={v}' for k, v in env.items())} from two directories"


def refused_relative(kit: Kit, started: OpResult) -> str:
    """A relative setting refused with one line passes, if the provider starts without it."""
    if not one_line_error(started):
        raise fail(f"start from the first caller's directory: {started.describe()}")
    plain = kit.name("caller-plain")
    with kit.started(plain, what="start without the relative settings"):
        pass
    return f"relative settings refused: {started.error_text}"


def second_caller_problems(first: Caller, second: Caller, name: str, value: str) -> list[str]:
    """How the second caller reached the first caller's session."""
    problems = []
    if second.running(name):
        problems.append("is-running from the second directory answered true for the first's session")
    if value and second.meta(name) == value:
        problems.append("get-meta from the second directory read the first's meta")
    listing = second.run("list-running", name)
    if listing.ok and name in split_list(listing.output):
        problems.append("list-running from the second directory listed the first's session")
    second.run("set-meta", name, CALLER_KEY, stdin=b"second")
    if value and first.meta(name) != value:
        problems.append("set-meta from the second directory changed the first's meta")
    second.run("stop", name)
    if not first.running(name):
        problems.append("stop from the second directory stopped the first's session")
        return problems
    start = second.start(name, StartConfig(work_dir=str(first.kit.workdir("caller")), command="sleep 300"))
    if not start.ok:
        problems.append(f"start from the second directory (another target): {start.describe()}")
    elif not second.running(name):
        problems.append("the second caller does not see the session it started")
    if value and first.meta(name) != value:
        problems.append("the second caller's start changed the first's meta")
    return problems


# --- closed stdin ---------------------------------------------------------------------


def closed(kit: Kit, op: str, *args: str) -> OpResult:
    return kit.provider.run(op, *args, close_stdin=True)


#: What a crash says, never bad input's one clear line.
CRASH = re.compile(r"Traceback \(most recent call last\)|internal error", re.IGNORECASE)


def sloppy(result: OpResult) -> str:
    """ "" when ``result`` is exit 0, or exit 1 with one line; no crash (a traceback, an internal error) either way."""
    said = result.stderr.decode("utf-8", "replace")
    if result.timed_out:
        return result.describe()
    if CRASH.search(said):
        return f"{result.describe()} (a crash, not a clear line)"
    if result.exit_code == 0 or one_line_error(result):
        return ""
    lines = len([line for line in said.splitlines() if line.strip()])
    return f"{result.describe()} ({lines} lines on stderr)"


CLOSED_OPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("protocol", ()),
    ("is-attached", ()),
    ("get-meta", (ALIAS_KEY,)),
    ("peek", ("5",)),
    ("get-last-activity", ()),
    ("list-running", ()),
    ("nudge", ()),
    ("send-keys", ("x",)),
    ("clear-scrollback", ()),
    ("remove-meta", ("gc_conf_other",)),
    ("copy-to", ()),
    ("exec", ()),
    ("interrupt", ()),
)


@strict(
    "GC-STRICT-USAGE-005",
    "usage",
    "every op with stdin closed exits 0, or 1 with one line; set-meta keeps the value, process-alive is false",
)
def closed_stdin(kit: Kit) -> str:
    name = kit.name("closed")
    value = secrets.token_hex(6)
    source = kit.workdir("closed-src") / "file"
    source.write_text("x")
    problems = []
    tried = 0
    with kit.started(name):
        has_meta = kit.run("set-meta", name, ALIAS_KEY, stdin=value.encode()).ok
        checks = [("is-running", closed(kit, "is-running", name))]
        if checks[0][1].ok and not reads_true(checks[0][1].output):
            problems.append(f"is-running of a live session with stdin closed: {checks[0][1].describe()}")
        alive = closed(kit, "process-alive", name)
        if not alive.ok or alive.output != "false":
            problems.append(f"process-alive with stdin closed (no names to find) must print false: {alive.describe()}")
        checks.append(("process-alive", alive))
        meta = closed(kit, "set-meta", name, ALIAS_KEY)
        if has_meta and (got := kit.run("get-meta", name, ALIAS_KEY).output) != value:
            problems.append(f"set-meta with stdin closed replaced the value with {got!r}")
        checks.append(("set-meta", meta))
        for op, args in CLOSED_OPS:
            argv = (str(source), "copied") if op == "copy-to" else args
            target = (kit.prefix,) if op == "list-running" else () if op == "protocol" else (name,)
            if kit.run(op, *target, *argv, stdin=b"" if op in PAYLOAD else None).not_implemented:
                continue
            checks.append((op, closed(kit, op, *target, *argv)))
        start = kit.name("closed-start")
        with kit.stopping(start):
            checks.append(("start", closed(kit, "start", start)))
        stop = closed(kit, "stop", name)
        checks.append(("stop", stop))
        if stop.ok and running(kit, name):
            problems.append("stop with stdin closed exited 0 and left the session running")
        for op, result in checks:
            tried += 1
            if result.not_implemented:
                problems.append(f"{op}: exit 2 (reads as success) with stdin closed")
            elif problem := sloppy(result):
                problems.append(problem)
    if problems:
        raise fail("; ".join(problems))
    return f"{tried} ops with stdin closed"


PAYLOAD = frozenset({"nudge", "exec"})


# --- tmux format characters in a work_dir ---------------------------------------------


def format_dir(root: Path, pwned: Path) -> Path:
    """A directory whose path holds tmux formats and shell expansions: ``#[``, ``##``, ``#{``, ``#(``, ``~``, ``$``."""
    return root / "a#[fg=red]b" / "##c" / "#{session_name}" / f"#(touch {pwned})" / "~" / "$HOME x"


@strict(
    "GC-STRICT-INJECT-007",
    "inject",
    "a work_dir holding '#[', '##', '#{', '#(', '~' or '$' is where the command runs (or the start is refused)",
)
def format_work_dir(kit: Kit) -> str:
    observable(kit)
    root = kit.workdir("fmt")
    pwned = root / "pwned"
    workdir = format_dir(root, pwned)
    workdir.mkdir(parents=True)
    out = kit.workdir("fmt-out") / "pwd.out"
    script = f"pwd > {shlex.quote(str(out))}; exec sleep 300"
    name = kit.name("fmt")
    with kit.stopping(name):
        start = kit.start(name, StartConfig(work_dir=str(workdir), command=sh_command(script)))
        if not start.ok:
            if one_line_error(start):
                return f"refused: {start.error_text}"
            raise fail(start.describe())
        if not wait_for_file(out, 10):
            raise fail("the command never ran (no output file after 10 s)")
        time.sleep(0.2)
        cwd = out.read_text().rstrip("\n")
    problems = []
    if not os.path.isdir(cwd) or not os.path.samefile(cwd, workdir):
        problems.append(f"the command ran in {cwd!r}, want {str(workdir)!r}")
    if ran := sorted(p.name for p in pwned.parent.glob("pwned*")):
        problems.append(f"'#(...)' in the work_dir ran a command: {ran}")
    if problems:
        raise fail("; ".join(problems))
    return ""


# --- SIGTERM while start types the config's nudge --------------------------------------

READY = "gc-conf-ready>"
NUDGE_TEXT = "gc-conf-start-nudge " + "n" * 200
ATTEMPTS = 3


class Nudged:
    """One start whose config nudge the kit interrupts with SIGTERM."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.dir = kit.workdir("start-nudge")
        self.typed = self.dir / "typed"
        self.name = kit.name("start-nudge")
        # Slow to ready: the prompt shows after a second, then every byte typed is recorded.
        record = shlex.quote(str(self.typed))
        script = f"stty raw -echo; sleep 1; printf '%s ' {shlex.quote(READY)}; exec cat > {record}"
        self.config = StartConfig(
            work_dir=str(self.dir), command=sh_command(script), nudge=NUDGE_TEXT, ready_prompt_prefix=READY
        )

    def typed_bytes(self) -> bytes:
        return self.typed.read_bytes() if self.typed.exists() else b""

    def run(self) -> tuple[str, OpResult | None]:
        """("signaled", result) | ("late", None) | ("ignored", result): how the start went."""
        kit = self.kit
        kit.track(self.name)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            began = time.monotonic()
            proc = subprocess.Popen(
                [*kit.provider.command, "start", self.name],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                env=kit.provider.env,
                process_group=0,
            )
            assert proc.stdin is not None
            try:
                proc.stdin.write(encode_start_config(self.config))
                proc.stdin.close()
            except OSError:
                pass
            outcome = self._signal_in_nudge(proc)
            if outcome != "signaled":
                proc.wait(timeout=120)
            else:
                try:
                    proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            out.seek(0)
            err.seek(0)
            result = OpResult(
                ("start", self.name), proc.returncode, out.read(), err.read(), False, time.monotonic() - began
            )
        return outcome, result

    def _signal_in_nudge(self, proc: subprocess.Popen[bytes]) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            typed = self.typed_bytes()
            if b"\r" in typed or b"\n" in typed:
                return "late"
            if typed:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    return "late"
                return "signaled"
            time.sleep(0.005)
        return "ignored" if proc.poll() is not None else "late"


@strict(
    "GC-STRICT-CANCEL-004",
    "cancel",
    "SIGTERM while start types the config's nudge: start exits non-zero and leaves no session",
)
def term_during_start_nudge(kit: Kit) -> str:
    observable(kit)
    for _ in range(ATTEMPTS):
        attempt = Nudged(kit)
        with kit.stopping(attempt.name):
            outcome, result = attempt.run()
            assert result is not None
            if outcome == "ignored":
                if not result.ok:
                    raise fail(f"the start with a config nudge failed: {result.describe()}")
                time.sleep(1)
                if not attempt.typed_bytes():
                    raise skip("start exited 0 without typing the config's nudge: it ignores nudge")
                continue
            if outcome == "late":
                continue
            return judge_interrupted(kit, attempt.name, result)
    raise skip(f"the nudge was over before the kit could signal it, {ATTEMPTS} times")


def judge_interrupted(kit: Kit, name: str, result: OpResult) -> str:
    problems = []
    how = f"exit {result.exit_code}" if result.exit_code >= 0 else f"killed by {signal.Signals(-result.exit_code).name}"
    if result.exit_code == -signal.SIGKILL:
        problems.append("start still ran 2 s after SIGTERM and was SIGKILLed")
    elif result.exit_code in (0, 2):
        problems.append(f"start {how} after SIGTERM: gc reads it as success")
    if running(kit, name):
        problems.append("is-running is true after the interrupted start (no rollback)")
    listing = kit.run("list-running", name)
    if listing.ok and name in split_list(listing.output):
        problems.append("list-running lists the interrupted start's session")
    if problems:
        raise fail("; ".join(problems))
    return f"start {how} on SIGTERM during the nudge"
