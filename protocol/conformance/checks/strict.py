"""Stricter checks for what Gas City users have been bitten by (suite ``strict``).

Each needs only protocol ops; when one answers exit 2 the check SKIPs with
that reason. Commands started here are wrapped in ``sh -c '…'`` so that any
provider that runs its command through a shell sees the same process tree.
"""

from __future__ import annotations

import re
import secrets
import shlex
import signal
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from protocol.conformance import procscan
from protocol.conformance.caller import join_process_names, parse_rfc3339, reads_true, split_list
from protocol.conformance.context import Kit
from protocol.conformance.driver import OpResult
from protocol.conformance.gojson import StartConfig
from protocol.conformance.model import fail, optional, required, skip
from protocol.conformance.registry import Spec, Unit, UnitBody, single

UNITS: list[Unit] = []
COLLISION_PHRASES = ("already exists", "already running")


def strict(code: str, group: str, title: str, *, serial: bool = False) -> Callable[[UnitBody], Unit]:
    def wrap(body: UnitBody) -> Unit:
        unit = single(Spec(code, "strict", group, title), serial=serial)(body)
        UNITS.append(unit)
        return unit

    return wrap


def slow_pre_start(workdir: Path, key: str, value: str, seconds: int) -> tuple[Path, StartConfig]:
    """A start whose pre_start marks a file (when the env arrived) then sleeps: a start to interrupt."""
    ran = workdir / "pre-start-ran"
    pre_start = f'[ "${key}" = {value} ] && : > {shlex.quote(str(ran))}; sleep {seconds}'
    return ran, StartConfig(work_dir=str(workdir), command="sleep 300", env={key: value}, pre_start=(pre_start,))


def sh_command(script: str) -> str:
    """A start command that runs ``script`` under ``sh -c``."""
    return "sh -c " + shlex.quote(script)


def wait_for_file(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def collision(result: OpResult) -> bool:
    text = result.stderr.decode("utf-8", "replace").lower()
    return any(phrase in text for phrase in COLLISION_PHRASES)


def shares_host(kit: Kit) -> bool:
    """Do sessions run on the kit's host and filesystem? Probed once per run.

    Some strict checks observe the session from outside: files it writes,
    processes in ``/proc``. A remote box (a pod, a VM) cannot be observed that
    way, so those checks SKIP instead of failing falsely.
    """
    with kit.facts_lock:
        if "shares-host" not in kit.facts:
            kit.facts["shares-host"] = _probe_host(kit)
        return kit.facts["shares-host"]


def _probe_host(kit: Kit) -> bool:
    name = kit.name("probe")
    flag = kit.workdir("probe") / f"here-{secrets.token_hex(4)}"
    command = sh_command(f": > {shlex.quote(str(flag))}; exec sleep 300")
    with kit.stopping(name):
        result = kit.start(name, StartConfig(work_dir=str(flag.parent), command=command))
        # A failed start proves nothing: let the checks run and report it.
        return not result.ok or wait_for_file(flag, 15)


def traces(pwned: Path) -> list[str]:
    """Files that injected ``touch {pwned}-N`` commands created: proof text was executed."""
    return sorted(p.name for p in pwned.parent.glob(f"{pwned.name}*"))


def observable(kit: Kit) -> None:
    if not shares_host(kit):
        raise skip(
            "sessions do not run on the kit's host filesystem (a remote box?): a probe session's file never appeared"
        )


# --- nudge ----------------------------------------------------------------------

SUBMIT = re.compile(rb"\x1b?\r+\Z")


class NudgeError(Exception):
    """The nudge op itself failed for one text."""


class Recorder:
    """A session whose pane records every byte typed into it (raw tty + cat)."""

    def __init__(self, kit: Kit, tag: str) -> None:
        self.kit = kit
        self.dir = kit.workdir(tag)
        self.ready = self.dir / "ready"
        self.log = self.dir / "typed"
        self.name = kit.name(tag)

    def config(self) -> StartConfig:
        script = f"stty raw -echo; : > {shlex.quote(str(self.ready))}; exec cat > {shlex.quote(str(self.log))}"
        return StartConfig(work_dir=str(self.dir), command=sh_command(script))

    def size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def nudge(self, text: str, settle: float) -> bytes:
        """Nudge ``text``; return the bytes the pane received for it.

        Waits until the log ends in a submit and is quiet for 0.3 s, or is
        quiet for 1.5 s after growing, or nothing arrived for 5 s, or
        ``settle`` seconds passed.
        """
        before = self.size()
        result = self.kit.run("nudge", self.name, stdin=text.encode())
        if result.not_implemented:
            raise skip("nudge not implemented (exit 2)")
        if not result.ok:
            raise NudgeError(result.describe())
        began = time.monotonic()
        last, stable_since = before, began
        while time.monotonic() - began < settle:
            size = self.size()
            now = time.monotonic()
            if size != last:
                last, stable_since = size, now
            quiet = now - stable_since
            if size == before and quiet > 8:
                break
            if size > before and (quiet > 1.5 or (quiet > 0.3 and self._submitted(before))):
                break
            time.sleep(0.05)
        return self.log.read_bytes()[before:] if self.log.exists() else b""

    def _submitted(self, offset: int) -> bool:
        return SUBMIT.search(self.log.read_bytes()[offset:]) is not None


@contextmanager
def recording(kit: Kit, tag: str) -> Iterator[Recorder]:
    """A started recorder, ready for input; stopped on the way out."""
    observable(kit)
    recorder = Recorder(kit, tag)
    with kit.started(recorder.name, config=recorder.config()):
        if not wait_for_file(recorder.ready, 20):
            raise fail("the recording command never started (no ready file after 20 s)")
        yield recorder


def literal_delivery(text: str, got: bytes) -> str:
    """ "" when ``got`` is ``text`` then a submit (optional Escape, then Enter)."""
    want = text.encode()
    if not got.startswith(want):
        return f"typed {got[:120]!r}, want {want[:120]!r} then Enter"
    rest = got[len(want) :]
    if not SUBMIT.match(rest):
        return f"after the text came {rest[:40]!r}, want Enter (\\r)"
    return ""


def nudge_texts(pwned: Path) -> tuple[str, ...]:
    return (
        "Enter",
        "C-c",
        "Escape",
        "-l",
        "--",
        "-t =other",
        f"hello; touch {pwned}-1",
        f"$(touch {pwned}-2) `touch {pwned}-3` 'single' \"double\" \\back",
        "héllo wörld ✓ 日本語 🚀",
        "line one\nline two\n  indented",
    )


def nudge_problems(recorder: Recorder, texts: Sequence[str]) -> list[str]:
    """Nudge each text; one line for each that did not arrive literally."""
    problems = []
    for text in texts:
        try:
            problem = literal_delivery(text, recorder.nudge(text, settle=10))
        except NudgeError as exc:
            problem = str(exc)
        if problem:
            problems.append(f"{text!r}: {problem}")
    return problems


@strict(
    "GC-STRICT-NUDGE-001",
    "nudge",
    "nudge types text literally (key names, flags, unicode, newlines)",
)
def nudge_literal(kit: Kit) -> str:
    with recording(kit, "nudge") as recorder:
        pwned = recorder.dir / "pwned"
        problems = nudge_problems(recorder, nudge_texts(pwned))
        if executed := traces(pwned):
            problems.append(f"nudge text was executed: {executed}")
        if problems:
            raise fail("; ".join(problems))
    return f"{len(nudge_texts(Path()))} texts delivered literally"


@strict("GC-STRICT-NUDGE-002", "nudge", "a nudge of 100 KB or more arrives whole and literal")
def nudge_large(kit: Kit) -> str:
    text = "".join(f"{i:06d} large nudge line;" for i in range(5000))
    with recording(kit, "nudge-big") as recorder:
        try:
            got = recorder.nudge(text, settle=30)
        except NudgeError as exc:
            raise fail(str(exc)) from None
        problem = literal_delivery(text, got)
        if problem:
            raise fail(f"{len(text)} bytes sent, {len(got)} received: {problem}")
    return f"{len(text)} bytes"


# --- process detection ------------------------------------------------------------


@contextmanager
def process_session(kit: Kit, decoy: str) -> Iterator[str]:
    """A started session running ``sleep``; yields its name."""
    name = kit.name("proc")
    # The decoy is only *mentioned* in a command line; no process has that name.
    script = f"sleep 300; echo {decoy}"
    marker = f"GC_CONF_PROC={secrets.token_hex(8)}"
    key, _, value = marker.partition("=")
    config = StartConfig(work_dir=str(kit.workdir("proc")), command=sh_command(script), env={key: value})
    with kit.started(name, config=config):
        if shares_host(kit):
            # Wait for the session's `sleep` itself (its own deadline), not a fixed pause
            # that a loaded host may not honour. A provider that drops the config's env
            # never shows the marker: then the deadline passes and the check goes on.
            deadline = time.monotonic() + 10
            while not any(p.cmdline.startswith("sleep ") for p in procscan.with_environment_marker(marker)):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        else:
            time.sleep(0.5)
        yield name


def alive(kit: Kit, name: str, names: Sequence[str]) -> bool:
    result = kit.run("process-alive", name, stdin=join_process_names(names))
    return reads_true(optional(result, "process-alive").output)


def expect_alive(kit: Kit, name: str, cases: Sequence[tuple[Sequence[str], bool]]) -> str:
    wrong = [f"{list(names)} -> {not want}" for names, want in cases if alive(kit, name, names) != want]
    if wrong:
        raise fail("process-alive answered wrongly: " + "; ".join(wrong))
    return f"{len(cases)} name lists answered correctly"


@strict(
    "GC-STRICT-PROCESS-001",
    "process",
    "process-alive finds a running process of the session by name",
)
def process_found(kit: Kit) -> str:
    with process_session(kit, "gcdecoy" + secrets.token_hex(3)) as name:
        return expect_alive(kit, name, [(["sleep"], True), (["sleep", "gc-no-such-proc"], True)])


@strict("GC-STRICT-PROCESS-002", "process", "process-alive reads the last name (no trailing newline)")
def process_last_name(kit: Kit) -> str:
    with process_session(kit, "gcdecoy" + secrets.token_hex(3)) as name:
        return expect_alive(kit, name, [(["gc-no-such-proc", "sleep"], True), (["gc-no-such-proc"], False)])


@strict(
    "GC-STRICT-PROCESS-003",
    "process",
    "process-alive ignores names only mentioned in command lines or as substrings",
)
def process_decoy(kit: Kit) -> str:
    decoy = "gcdecoy" + secrets.token_hex(3)
    with process_session(kit, decoy) as name:
        return expect_alive(kit, name, [([decoy], False), (["slee"], False)])


# --- activity, meta, start config ----------------------------------------------------


#: How long GC-STRICT-ACTIVITY-001 gives output to show in get-last-activity.
ACTIVITY_BUDGET = 10.0


@strict("GC-STRICT-ACTIVITY-001", "activity", "get-last-activity advances after the session prints")
def activity_advances(kit: Kit) -> str:
    """The session prints once (when the kit says so); activity must advance within the budget.

    The provider may see output late (tmux reads the pane when its event loop
    gets to it, which takes longer the busier the server is; a remote provider
    may cache), so the check keeps asking until ``ACTIVITY_BUDGET`` seconds
    after the output was confirmed, not once after a fixed pause: its verdict
    does not depend on what else runs beside it (``--workers``).
    """
    observable(kit)
    name = kit.name("activity")
    workdir = kit.workdir("activity")
    # The session prints only when the kit says so, then confirms with a file.
    go, ticked = (shlex.quote(str(workdir / f)) for f in ("go", "ticked"))
    script = f"while [ ! -e {go} ]; do sleep 0.1; done; echo gc-activity-tick; : > {ticked}; exec sleep 300"
    with kit.started(name, config=StartConfig(work_dir=str(workdir), command=sh_command(script))):
        first = optional(kit.run("get-last-activity", name), "get-last-activity").output
        time.sleep(1.2)  # activity has a resolution of one second
        (workdir / "go").touch()
        if not wait_for_file(workdir / "ticked", ACTIVITY_BUDGET):
            raise fail(f"the session command never printed (no confirmation after {ACTIVITY_BUDGET:g} s)")
        deadline = time.monotonic() + ACTIVITY_BUDGET
        while True:
            second = optional(kit.run("get-last-activity", name), "get-last-activity").output
            if first == "" and second == "":
                raise skip("get-last-activity reports no activity (empty output)")
            before, after = parse_rfc3339(first), parse_rfc3339(second)
            if before is None or after is None:
                raise fail(f"not RFC3339: {first!r} / {second!r}")
            if after > before:
                return f"{first} -> {second}"
            if time.monotonic() > deadline:
                raise fail(f"activity did not advance within {ACTIVITY_BUDGET:g} s of output: "
                           f"{first} then {second}")
            time.sleep(0.2)


@strict(
    "GC-STRICT-META-001",
    "meta",
    "start env is readable through get-meta (GC_SESSION_ID, GC_INSTANCE_TOKEN)",
)
def start_env_meta(kit: Kit) -> str:
    name = kit.name("meta-env")
    env = {
        "GC_SESSION_ID": f"gc-conf-{secrets.token_hex(4)}",
        "GC_INSTANCE_TOKEN": secrets.token_hex(16),
    }
    with kit.started(name, config=kit.default_config()._replace(env=env)):
        for key, value in env.items():
            got = optional(kit.run("get-meta", name, key), "get-meta").output
            if got != value:
                raise fail(f"get-meta {key} = {got!r}, want {value!r}")
    return ""


@strict("GC-STRICT-START-003", "start", "start runs the command in work_dir with env values intact")
def start_config_honoured(kit: Kit) -> str:
    observable(kit)
    name = kit.name("config")
    workdir = kit.workdir("config")
    value = "a<b>&c 'single' \"double\" $(no) `no` é ✓\u2028end"
    # env.out appears only once complete (renamed into place), after pwd.out.
    script = 'pwd > pwd.out; printf "%s" "$GC_CONF_VALUE" > env.tmp && mv env.tmp env.out; exec sleep 300'
    config = StartConfig(work_dir=str(workdir), command=sh_command(script), env={"GC_CONF_VALUE": value})
    with kit.started(name, config=config):
        if not wait_for_file(workdir / "env.out", 10):
            raise fail("the command did not run in work_dir (no output file after 10 s)")
        cwd = (workdir / "pwd.out").read_text().strip()
        if Path(cwd).resolve() != workdir.resolve():
            raise fail(f"cwd was {cwd!r}, want {str(workdir)!r}")
        got = (workdir / "env.out").read_text("utf-8", "replace")
        if got != value:
            raise fail(f"env value arrived as {got!r}, want {value!r}")
    return ""


# --- usage errors -------------------------------------------------------------------


def usage_error(result: OpResult) -> str:
    """ "" when ``result`` is a proper usage error: exit 1 with a message."""
    if result.exit_code == 1 and result.stderr.strip():
        return ""
    if result.exit_code == 1:
        return f"{result.describe()} (no message on stderr)"
    return result.describe()


@strict("GC-STRICT-USAGE-001", "usage", "a missing session name is an error (exit 1), never exit 0 or 2")
def missing_name(kit: Kit) -> str:
    calls: list[tuple[str, bytes | None]] = [
        ("start", b"{}"),
        ("stop", None),
        ("is-running", None),
        ("nudge", b"hello"),
        ("get-meta", None),
    ]
    wrong = []
    for op, stdin in calls:
        result = kit.run(op, stdin=stdin)
        if problem := usage_error(result):
            wrong.append(problem)
    if wrong:
        raise fail("; ".join(wrong))
    return ""


@strict("GC-STRICT-USAGE-002", "usage", "peek with a non-integer line count is an error (exit 1)")
def peek_not_int(kit: Kit) -> str:
    name = kit.name("usage")
    with kit.started(name):
        optional(kit.run("peek", name, "10"), "peek")
        if problem := usage_error(kit.run("peek", name, "notanint")):
            raise fail(problem)
    return ""


@strict(
    "GC-STRICT-USAGE-003",
    "usage",
    "a session name starting with '-' is rejected (exit 1) or handled as a name",
)
def dash_name(kit: Kit) -> str:
    name = "-" + kit.name("dash")
    outcome = []
    for op in ("is-running", "stop"):
        result = kit.run(op, name)
        if result.not_implemented:
            raise fail(f"{result.describe()}: exit 2 reads as success")
    with kit.stopping(name):
        start = kit.start(name, kit.default_config())
        if start.not_implemented:
            raise fail(f"{start.describe()}: exit 2 reads as success")
        if start.ok:
            running = kit.run("is-running", name)
            if not reads_true(running.output):
                raise fail(f"start exited 0 but {running.describe()}")
            outcome.append("accepted as a literal name")
        elif start.exit_code == 1:
            outcome.append("rejected with exit 1")
        else:
            raise fail(start.describe())
    return outcome[0]


@strict("GC-STRICT-USAGE-004", "usage", "an unknown operation exits 2 with empty stdout")
def unknown_op(kit: Kit) -> str:
    result = kit.run("gc-conformance-no-such-op", kit.name("unknown"))
    if result.exit_code != 2 or result.stdout:
        raise fail(result.describe())
    return ""


# --- start races and injection -------------------------------------------------------


@strict(
    "GC-STRICT-START-001",
    "start",
    "concurrent duplicate starts: exactly one wins, the rest exit 1 'already exists'",
)
def duplicate_race(kit: Kit) -> str:
    name = kit.name("race")
    config = kit.default_config()
    with kit.stopping(name):
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: kit.start(name, config), range(4)))
        winners = [r for r in results if r.ok]
        losers = [r for r in results if not r.ok]
        bad = [r.describe() for r in losers if r.exit_code != 1 or not collision(r)]
        if len(winners) != 1 or bad:
            raise fail(f"{len(winners)} of 4 starts exited 0; wrong losers: {bad}")
        running = kit.run("is-running", name)
        if not reads_true(running.output):
            raise fail(f"after the race: {running.describe()}")
    return ""


@strict(
    "GC-STRICT-START-002",
    "start",
    "a duplicate start exits 1 with 'already exists' and leaves the session running",
)
def duplicate_message(kit: Kit) -> str:
    name = kit.name("dup")
    with kit.started(name):
        second = kit.start(name, kit.default_config())
        if second.exit_code != 1 or not collision(second):
            raise fail(f"second start: {second.describe()}")
        running = kit.run("is-running", name)
        if not reads_true(running.output):
            raise fail(f"the live session was disturbed: {running.describe()}")
        return second.error_text


#: A start config cut off mid-value: no retry will ever read it.
UNREADABLE_CONFIG = b'{"work_dir": '
TEMPORARY_FAILURE = 75  # EX_TEMPFAIL: gc may retry the start


@strict(
    "GC-STRICT-START-004",
    "start",
    "a start that can never succeed fails plainly, never with 75 (temporary: retry later)",
)
def permanent_start_failure(kit: Kit) -> str:
    name = kit.name("tempfail")
    with kit.stopping(name):
        result = kit.run("start", name, stdin=UNREADABLE_CONFIG)
    if result.timed_out:
        raise fail(result.describe())
    if result.exit_code == TEMPORARY_FAILURE:
        raise fail(f"{result.describe()}: 75 asks gc to retry a start whose config no retry can read")
    if result.ok or result.not_implemented:
        raise fail(f"{result.describe()}: a start with an unreadable config reads as success")
    return result.describe()


def evil_names(prefix: str, pwned: Path) -> tuple[str, ...]:
    return (
        f"{prefix}$(touch {pwned}-1)",
        f"{prefix};touch {pwned}-2",
        f"{prefix}`touch {pwned}-3`",
        f"{prefix}'\"$(touch {pwned}-4)\"'",
        f"{prefix}\ntouch {pwned}-5",
        f"{prefix}|touch {pwned}-6",
        f"{prefix}&&touch {pwned}-7",
        f"{prefix} x",
    )


@strict(
    "GC-STRICT-INJECT-001",
    "inject",
    "names with shell metacharacters never execute (exit 1 or literal)",
)
def injected_names(kit: Kit) -> str:
    pwned = kit.workdir("inject") / "pwned"
    problems = []
    accepted = 0
    for name in evil_names(kit.name("inj"), pwned):
        with kit.stopping(name):
            start = kit.start(name, kit.default_config())
            if start.not_implemented:
                problems.append(f"start {name!r}: exit 2")
            elif start.ok:
                accepted += 1
                running = kit.run("is-running", name)
                if not reads_true(running.output):
                    problems.append(f"start {name!r} exited 0 but is-running says {running.output!r}")
            elif start.exit_code != 1:
                problems.append(start.describe())
            problems.extend(
                f"{op} {name!r}: exit 2" for op in ("is-running", "stop") if kit.run(op, name).not_implemented
            )
    if executed := traces(pwned):
        problems.append(f"commands in names were executed: {executed}")
    if problems:
        raise fail("; ".join(problems))
    return f"{accepted} accepted literally, {len(evil_names('', pwned)) - accepted} rejected"


@strict("GC-STRICT-INJECT-002", "inject", "meta keys and values with shell metacharacters never execute")
def injected_meta(kit: Kit) -> str:
    name = kit.name("inj-meta")
    pwned = kit.workdir("inject") / "pwned"
    with kit.started(name):
        value = f"$(touch {pwned}-1); `touch {pwned}-2` 'q' \"dq\" \\ %s\nsecond line"
        optional(kit.run("set-meta", name, "gc_conf_value", stdin=value.encode()), "set-meta")
        got = kit.run("get-meta", name, "gc_conf_value")
        if got.output != value:
            raise fail(f"value read back as {got.output!r}")
        evil_key = f"k$(touch {pwned}-3)"
        set_evil = kit.run("set-meta", name, evil_key, stdin=b"v")
        if set_evil.not_implemented or (not set_evil.ok and set_evil.exit_code != 1):
            raise fail(f"set-meta with an odd key: {set_evil.describe()}")
        if set_evil.ok and kit.run("get-meta", name, evil_key).output != "v":
            raise fail("an odd key was accepted but does not read back")
        if executed := traces(pwned):
            raise fail(f"meta text was executed: {executed}")
    return ""


# --- stop -------------------------------------------------------------------------------


@strict("GC-STRICT-STOP-001", "stop", "stop leaves no process of a TERM/HUP-ignoring tree behind")
def stop_tree(kit: Kit) -> str:
    observable(kit)
    name = kit.name("tree")
    marker = f"GC_CONF_MARK={secrets.token_hex(8)}"
    script = 'trap "" HUP TERM; sleep 300 & sleep 300 & while :; do wait; done'
    command = f"env {marker} sh -c {shlex.quote(script)}"
    try:
        with kit.started(name, config=StartConfig(work_dir=str(kit.workdir("tree")), command=command)):
            before = procscan.wait_for(marker, 3, timeout=10)
            if len(before) < 3:
                raise fail(f"the tree never came up: {[p.cmdline for p in before]}")
            stopped = kit.stop(name)
            if not stopped.ok:
                raise fail(f"stop: {stopped.describe()}")
            left = procscan.wait_gone(marker, timeout=1.0)
            if left:
                raise fail(
                    f"{len(left)} of {len(before)} processes survived stop: "
                    + ", ".join(f"{p.pid} {p.cmdline}" for p in left)
                )
    finally:
        procscan.kill_all(procscan.with_environment_marker(marker))
    return f"{len(before)} processes gone"


@strict(
    "GC-STRICT-STOP-002",
    "stop",
    "stop is synchronous: is-running, list-running, process-alive see it gone at once",
)
def stop_synchronous(kit: Kit) -> str:
    name = kit.name("sync")
    required(kit.start(name), "start")
    time.sleep(0.3)
    stopped = kit.stop(name)
    if not stopped.ok:
        raise fail(f"stop: {stopped.describe()}")
    if problems := still_there(kit, name):
        raise fail("; ".join(problems))
    return ""


def still_there(kit: Kit, name: str) -> list[str]:
    """How is-running, list-running and process-alive still see ``name`` (empty: gone)."""
    problems = []
    running = kit.run("is-running", name)
    if reads_true(running.output):
        problems.append("is-running still true")
    listing = kit.run("list-running", name)
    if listing.ok and name in split_list(listing.output):
        problems.append("list-running still lists it")
    alive_after = kit.run("process-alive", name, stdin=b"sleep")
    if alive_after.ok and reads_true(alive_after.output):
        problems.append("process-alive still true")
    return problems


# --- cancellation ---------------------------------------------------------------------
#
# gc cancels an op by signalling its process group: SIGTERM, then SIGKILL 2 s
# later; after a canceled start it calls stop. The kit cancels a start that a
# slow pre_start keeps busy. A provider that runs no pre_start in start is done
# before the cancel, and these checks SKIP.

PRE_START_SECONDS = 5
CANCEL_AFTER = 1.0
#: Beyond the pre_start: start work that escaped the signals has finished by then.
ESCAPE_MARGIN = 2.0
#: The longest the kit waits for a start to reach its pre_start before canceling it anyway.
PRE_START_WAIT = 30.0


class CanceledStart(NamedTuple):
    name: str
    result: OpResult
    marker: str  # KEY=VALUE in the env of every process the pre_start runs
    ran: Path  # the pre_start creates it, where the kit can see it


@contextmanager
def canceled_start(kit: Kit, *, in_pre_start: bool = False) -> Iterator[CanceledStart]:
    """A start kept busy by a slow pre_start, canceled mid-way as gc cancels it.

    ``in_pre_start``: not before the pre_start's file appears (a loaded machine may take
    longer than `CANCEL_AFTER` to get there), within `PRE_START_WAIT`. SKIPs when the
    start was over before the cancel. On the way out the session is stopped and whatever
    the pre_start left behind is killed.
    """
    name = kit.name("cancel")
    key, value = "GC_CONF_MARK", secrets.token_hex(8)
    workdir = kit.workdir("cancel")
    ran, config = slow_pre_start(workdir, key, value, PRE_START_SECONDS)
    try:
        with kit.stopping(name):
            result = kit.start(name, config, cancel_after=CANCEL_AFTER,
                               cancel_when=ran.exists if in_pre_start else None, cancel_by=PRE_START_WAIT)
            if not result.timed_out:
                if in_pre_start and not ran.exists():
                    raise skip("the pre_start had not run where the kit can see it (its file never appeared)")
                raise skip(f"start ended before the kit could cancel it ({result.describe()}): runs no pre_start?")
            yield CanceledStart(name, result, f"{key}={value}", ran)
    finally:
        procscan.kill_all(procscan.with_environment_marker(f"{key}={value}"))


def how_it_ended(result: OpResult) -> str:
    """``exit 1``, ``killed by SIGTERM``: for a canceled op, ``describe`` says only "timed out"."""
    if result.exit_code < 0:
        return f"killed by {signal.Signals(-result.exit_code).name}"
    return f"exit {result.exit_code}"


@strict(
    "GC-STRICT-CANCEL-001",
    "cancel",
    "a start canceled mid-way leaves no session once stop is called",
)
def canceled_start_leaves_no_session(kit: Kit) -> str:
    # Start work that escaped the signals (a detached child) has finished by then.
    settled = time.monotonic() + PRE_START_SECONDS + ESCAPE_MARGIN
    with canceled_start(kit) as canceled:
        required(kit.stop(canceled.name), "stop after the canceled start")
        time.sleep(max(0.0, settled - time.monotonic()))
        if problems := still_there(kit, canceled.name):
            raise fail("after a canceled start, stop and the pre_start's time: " + "; ".join(problems))
    return f"start {how_it_ended(canceled.result)} on cancel"


@strict(
    "GC-STRICT-CANCEL-002",
    "cancel",
    "a canceled start exits within the 2 s between SIGTERM and SIGKILL",
)
def canceled_start_exits_in_grace(kit: Kit) -> str:
    with canceled_start(kit) as canceled:
        result = canceled.result
    if result.exit_code == -signal.SIGKILL:
        raise fail("start still ran 2 s after SIGTERM and was SIGKILLed: its rollback never finished")
    said = result.stderr.decode("utf-8", "replace").strip()
    return how_it_ended(result) + (f": {said}" if said else "")


@strict(
    "GC-STRICT-CANCEL-003",
    "cancel",
    "a canceled start leaves no process behind (pre_start included)",
)
def canceled_start_leaves_no_process(kit: Kit) -> str:
    with canceled_start(kit, in_pre_start=True) as canceled:
        if not canceled.ran.exists():
            raise skip("the pre_start had not run where the kit can see it (its file never appeared)")
        required(kit.stop(canceled.name), "stop after the canceled start")
        if left := procscan.wait_gone(canceled.marker, timeout=1.0):
            raise fail(
                f"{len(left)} processes of the canceled start outlived it and stop: "
                + ", ".join(f"{p.pid} {p.cmdline}" for p in left)
            )
    return ""


# --- cold start -----------------------------------------------------------------------

HOT_OPS: tuple[tuple[str, tuple[str, ...], bytes | None], ...] = (
    ("is-running", (), None),
    ("get-meta", ("GC_SESSION_ID",), None),
    ("list-running", (), None),
    ("process-alive", (), b"sleep"),
    ("get-last-activity", (), None),
    ("is-attached", (), None),
)


@strict(
    "GC-STRICT-COLD-START-001",
    "performance",
    "hot-op latency (median of 5; fails only above --cold-start-threshold-ms)",
    serial=True,
)
def cold_start(kit: Kit) -> str:
    name = kit.name("perf")
    medians: dict[str, float] = {}
    with kit.started(name):
        for op, args, stdin in HOT_OPS:
            argv = (kit.prefix,) if op == "list-running" else (name, *args)
            runs = [kit.run(op, *argv, stdin=stdin) for _ in range(5)]
            if runs[0].not_implemented:
                continue
            medians[op] = statistics.median(r.elapsed for r in runs) * 1000
    text = ", ".join(f"{op} {ms:.0f}ms" for op, ms in medians.items())
    limit = kit.options.cold_start_threshold_ms
    if limit is not None:
        slow = [op for op, ms in medians.items() if ms > limit]
        if slow:
            raise fail(f"above {limit:g} ms: {slow}; {text}")
    return text
