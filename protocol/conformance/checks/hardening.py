"""Strict checks for defect classes that shipped in real providers (suite ``strict``).

Each class here broke Gas City's own providers once: prefix-matched tmux
targets, arguments ending in ``;`` (tmux ends a command there), copies through
symlinks an agent planted, ops on an exited agent landing on another one, a
killed start blocking the next, and start env values on a command line.
Where possible a check observes through the provider's own ops (``get-meta``,
``is-running``, ``peek``), so it also holds for a remote box; what needs the
kit's host (files, ``/proc``) SKIPs or is left out, and says so.
"""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

from protocol.conformance import procscan
from protocol.conformance.caller import join_process_names, reads_true, split_list
from protocol.conformance.checks.strict import (
    nudge_problems,
    observable,
    recording,
    sh_command,
    shares_host,
    slow_pre_start,
    traces,
    wait_for_file,
)
from protocol.conformance.context import Kit
from protocol.conformance.driver import OpResult
from protocol.conformance.gojson import StartConfig, encode_start_config
from protocol.conformance.model import fail, optional, skip
from protocol.conformance.registry import Unit, strict_registrar

UNITS: list[Unit] = []


strict = strict_registrar(UNITS)


def running(kit: Kit, name: str) -> bool:
    return reads_true(kit.run("is-running", name).output)


def meta(kit: Kit, name: str, key: str) -> OpResult:
    return kit.run("get-meta", name, key)


def one_line_error(result: OpResult) -> bool:
    """Exit 1 with exactly one non-empty line on stderr (no traceback)."""
    lines = [line for line in result.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return result.exit_code == 1 and not result.timed_out and len(lines) == 1


# --- isolation --------------------------------------------------------------------


@strict(
    "GC-STRICT-ISOLATION-001",
    "isolation",
    "with only <x>-2 running, ops on <x> neither see nor touch it (no prefix match)",
)
def prefix_isolation(kit: Kit) -> str:
    base = kit.name("prefix")
    longer = f"{base}-2"
    key, value = "GC_CONF_PREFIX", secrets.token_hex(6)
    with kit.started(longer, config=kit.default_config()._replace(env={key: value})), kit.stopping(base):
        time.sleep(0.3)
        problems = []
        if running(kit, base):
            problems.append("is-running <x> answered true")
        found = kit.run("process-alive", base, stdin=join_process_names(["sleep"]))
        if found.ok and reads_true(found.output):
            problems.append("process-alive <x> found <x>-2's sleep")
        if meta(kit, base, key).output == value:
            problems.append("get-meta <x> read <x>-2's env")
        kit.run("stop", base)
        if not running(kit, longer):
            raise fail("; ".join([*problems, "stop <x> stopped <x>-2"]))
        start = kit.start(base, kit.default_config())
        if not start.ok:
            problems.append(f"start <x> while only <x>-2 runs: {start.describe()}")
        elif not running(kit, base):
            problems.append("start <x> exited 0 but is-running <x> is false")
        else:
            kit.stop(base)
        if not running(kit, longer):
            problems.append("start or stop of <x> stopped <x>-2")
        if problems:
            raise fail("; ".join(problems))
    return "is-running, process-alive, get-meta, stop and start of <x> left <x>-2 alone"


@strict(
    "GC-STRICT-ISOLATION-002",
    "isolation",
    "peek, clear-scrollback, send-keys, nudge, interrupt on an exited agent leave others alone",
)
def exited_agent_ops(kit: Kit) -> str:
    exited, bystander = kit.name("exited"), kit.name("bystander")
    tag = secrets.token_hex(4)
    # The bystander fills its scrollback, then dies on any stray input line or ^C.
    script = f"i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo by-{tag}-$i; done; read -r line; exit 0"
    bystander_config = StartConfig(work_dir=str(kit.workdir("bystander")), command=sh_command(script))
    with kit.started(bystander, config=bystander_config), kit.stopping(exited):
        if not _settle(kit, bystander, f"by-{tag}-300"):
            raise fail("the bystander's output never showed in peek")
        # Only a peek that reaches back into the scrollback can watch it.
        first_line = f"by-{tag}-1\n"
        keeps_history = first_line in _peek(kit, bystander, 400)
        kit.start(exited, kit.default_config(command="true"))  # exits at once; any verdict
        deadline = time.monotonic() + 5
        while running(kit, exited) and time.monotonic() < deadline:
            time.sleep(0.1)
        harm = []
        for op, args, stdin in EXITED_OPS:
            result = kit.run(op, exited, *args, stdin=stdin)
            if result.timed_out:
                harm.append(f"{op}: {result.describe()}")
            if op == "peek" and f"by-{tag}-" in result.output:
                harm.append("peek of the exited agent showed the bystander's screen")
            if not running(kit, bystander):
                harm.append(f"{op} on the exited agent ended the bystander")
                break
            if keeps_history and first_line not in _peek(kit, bystander, 400):
                harm.append(f"{op} on the exited agent cleared the bystander's scrollback")
                keeps_history = False
        if harm:
            raise fail("; ".join(harm))
    return "5 ops on the exited agent" + ("" if keeps_history else " (peek shows no scrollback to watch)")


EXITED_OPS: tuple[tuple[str, tuple[str, ...], bytes | None], ...] = (
    ("peek", ("400",), None),
    ("clear-scrollback", (), None),
    ("send-keys", ("C-c",), None),
    ("nudge", (), b"stray line for the exited agent"),
    ("interrupt", (), None),
)


def _peek(kit: Kit, name: str, lines: int) -> str:
    result = kit.run("peek", name, str(lines))
    if result.not_implemented:
        raise skip("peek not implemented (exit 2)")
    return result.stdout.decode("utf-8", "replace") + "\n"


def _settle(kit: Kit, name: str, text: str) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if text in _peek(kit, name, 400):
            return True
        time.sleep(0.2)
    return False


# --- command separators (";" at the end of an argument) ------------------------------

PWNED_KEY = "GC_CONF_PWNED"


def executed(kit: Kit, name: str, pwned: Path) -> list[str]:
    """Evidence that injected tmux commands ran: marker files, a planted meta key."""
    evidence = [f"file {f}" for f in traces(pwned)] if shares_host(kit) else []
    if meta(kit, name, PWNED_KEY).output == "yes":
        evidence.append(f"meta {PWNED_KEY}=yes was set")
    return evidence


def separator_payloads(name: str, pwned: Path) -> tuple[tuple[str, ...], ...]:
    """send-keys argument lists that run tmux commands if a final ';' reaches tmux.

    One call each, so that a provider refusing one list (say, a key name with
    a space) still meets the others; ``${IFS}`` keeps a shell command free of
    spaces for providers that validate key names.
    """
    return (
        ("Enter;", "run-shell", f"touch {pwned}-1"),
        ("Enter;", "run-shell", f"touch${{IFS}}{pwned}-2"),
        ("C-m;", "set-environment", "-t", f"={name}", PWNED_KEY, "yes"),
        ("x;", "run-shell", f"touch${{IFS}}{pwned}-3;", "set-environment", "-t", f"={name}", PWNED_KEY, "yes"),
        (";", "run-shell", f"touch${{IFS}}{pwned}-4"),
    )


@strict(
    "GC-STRICT-INJECT-003",
    "inject",
    "send-keys keys ending in ';' never run a tmux command, and the session survives",
)
def semicolon_keys(kit: Kit) -> str:
    name = kit.name("semi-keys")
    pwned = kit.workdir("semi-keys") / "pwned"
    accepted = 0
    with kit.started(name):
        for keys in separator_payloads(name, pwned):
            result = kit.run("send-keys", name, *keys)
            if result.not_implemented:
                raise skip("send-keys not implemented (exit 2)")
            if result.timed_out:
                raise fail(result.describe())
            accepted += result.ok
        time.sleep(1)
        problems = [f"injected commands ran: {e}" for e in executed(kit, name, pwned)]
        if not running(kit, name):
            problems.append("the session did not survive")
        if problems:
            raise fail("; ".join(problems))
    total = len(separator_payloads(name, pwned))
    return f"{accepted} of {total} key lists accepted, none ran a command"


SEMICOLON_VALUES = ("v;", "two;\nlines;", ";", "ends in \\;", "x ; y ;")


@strict(
    "GC-STRICT-INJECT-004",
    "inject",
    "meta values and keys ending in ';' round-trip byte for byte (or the key is refused)",
)
def semicolon_meta(kit: Kit) -> str:
    name = kit.name("semi-meta")
    problems = []
    with kit.started(name):
        for i, value in enumerate(SEMICOLON_VALUES):
            key = f"gc_conf_semi_{i}"
            optional(kit.run("set-meta", name, key, stdin=value.encode()), f"set-meta {value!r}")
            got = meta(kit, name, key).output
            if got != value:
                problems.append(f"{value!r} read back as {got!r}")
        odd = kit.run("set-meta", name, "gc_conf_key;", stdin=b"ok;")
        if odd.ok and meta(kit, name, "gc_conf_key;").output != "ok;":
            problems.append("key 'gc_conf_key;' was accepted but does not read back")
        elif not odd.ok and odd.exit_code != 1:
            problems.append(f"key 'gc_conf_key;': {odd.describe()}")
        if not running(kit, name):
            problems.append("the session did not survive")
        if problems:
            raise fail("; ".join(problems))
    return f"{len(SEMICOLON_VALUES)} values round-tripped; odd key " + ("accepted" if odd.ok else "refused")


@strict(
    "GC-STRICT-INJECT-005",
    "inject",
    "start env values and work_dir ending in ';' arrive byte for byte",
)
def semicolon_start(kit: Kit) -> str:
    name = kit.name("semi-start")
    workdir = kit.workdir("semi-start") / "wd;"
    workdir.mkdir()
    session_id = f"gc-conf-{secrets.token_hex(4)};"
    env = {"GC_SESSION_ID": session_id, "GC_CONF_SEMI": "tail;", "GC_CONF_SEMI2": ";"}
    script = 'pwd > pwd.out; printf "%s|%s" "$GC_CONF_SEMI" "$GC_CONF_SEMI2" > env.out; exec sleep 300'
    config = StartConfig(work_dir=str(workdir), command=sh_command(script), env=env)
    problems = []
    with kit.started(name, config=config):
        got = meta(kit, name, "GC_SESSION_ID")
        if not got.not_implemented and got.output != session_id:
            problems.append(f"get-meta GC_SESSION_ID = {got.output!r}, want {session_id!r}")
        seen_on_host = shares_host(kit)
        if seen_on_host:
            if not wait_for_file(workdir / "env.out", 10):
                problems.append("the command did not run in the work_dir ending in ';'")
            else:
                time.sleep(0.2)
                cwd = (workdir / "pwd.out").read_text().strip()
                if Path(cwd).resolve() != workdir.resolve():
                    problems.append(f"cwd was {cwd!r}, want {str(workdir)!r}")
                values = (workdir / "env.out").read_text("utf-8", "replace")
                if values != "tail;|;":
                    problems.append(f"env values arrived as {values!r}, want 'tail;|;'")
        if not running(kit, name):
            problems.append("the session did not survive")
    if problems:
        raise fail("; ".join(problems))
    return "" if seen_on_host else "checked through get-meta only (the box is not on the kit's host)"


SEMICOLON_NUDGES = ("hello;", "first;\nsecond;", ";")


@strict("GC-STRICT-INJECT-006", "inject", "nudge texts ending in ';' arrive byte for byte")
def semicolon_nudge(kit: Kit) -> str:
    with recording(kit, "semi-nudge") as recorder:
        problems = nudge_problems(recorder, SEMICOLON_NUDGES)
        if not running(kit, recorder.name):
            problems.append("the session did not survive")
        if problems:
            raise fail("; ".join(problems))
    return f"{len(SEMICOLON_NUDGES)} texts delivered literally"


# --- copy-to ------------------------------------------------------------------------


class CopyCase(NamedTuple):
    src: Path
    rel_dst: str


@strict(
    "GC-STRICT-COPY-001",
    "copy",
    "copy-to never writes through a symlink the agent planted in its work dir",
)
def copy_containment(kit: Kit) -> str:
    observable(kit)
    outside = kit.workdir("outside")
    victim = outside / "victim"
    victim.write_text("untouched")
    src_file = kit.workdir("copy-src") / "payload"
    src_file.write_text("PAYLOAD")
    src_dir = kit.workdir("copy-tree")
    (src_dir / "linkfile").write_text("PAYLOAD")
    (src_dir / "linkdir").mkdir()
    (src_dir / "linkdir" / "inner").write_text("PAYLOAD")
    workdir = kit.workdir("copy")
    q = shlex.quote
    plant = f"ln -s {q(str(victim))} linkfile; ln -s {q(str(outside))} linkdir; : > planted; exec sleep 300"
    name = kit.name("copy")
    cases = (
        CopyCase(src_file, "linkfile"),
        CopyCase(src_file, "linkdir"),
        CopyCase(src_file, "linkdir/new"),
        CopyCase(src_dir, ""),
        CopyCase(src_dir, "linkdir"),
    )
    problems = []
    with kit.started(name, config=StartConfig(work_dir=str(workdir), command=sh_command(plant))):
        if not wait_for_file(workdir / "planted", 20):
            raise fail("the session command never planted its symlinks (no file after 20 s)")
        # A copy-to that copies nothing would pass vacuously: one plain copy must land.
        plain = kit.run("copy-to", name, str(src_file), "plain/payload")
        if plain.not_implemented:
            raise skip("copy-to not implemented (exit 2)")
        if not (workdir / "plain" / "payload").is_file():
            gone = "" if running(kit, name) else "; the session is gone"
            raise fail(f"a plain copy-to never arrived in the work dir ({plain.describe()}{gone})")
        for case in cases:
            result = kit.run("copy-to", name, str(case.src), case.rel_dst)
            if result.not_implemented:
                raise skip("copy-to not implemented (exit 2)")
            if result.timed_out:
                problems.append(result.describe())
            wrote = sorted(p.name for p in outside.iterdir() if p.name != "victim")
            if victim.read_text() != "untouched" or wrote:
                where = wrote or ["victim"]
                problems.append(f"copy-to {case.src.name} {case.rel_dst!r} wrote outside the work dir: {where}")
                victim.write_text("untouched")
                for extra in wrote:
                    _remove(outside / extra)
    if problems:
        raise fail("; ".join(problems))
    return f"{len(cases)} copies into planted symlinks stayed inside"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            _remove(child)
        path.rmdir()
    else:
        path.unlink(missing_ok=True)


@strict(
    "GC-STRICT-COPY-002",
    "copy",
    "copy-to of a source with a symlink loop exits 1 with one line (or copies the links as links)",
)
def copy_loop(kit: Kit) -> str:
    name = kit.name("copy-loop")
    src = kit.workdir("loop-src")
    (src / "file").write_text("x")
    os.symlink(".", src / "self")
    os.symlink("b", src / "a")
    os.symlink("a", src / "b")
    looped = kit.workdir("loop-link") / "loop"
    os.symlink(looped.name, looped)
    workdir = kit.workdir("loop-dst")
    try:
        with kit.started(name, config=StartConfig(work_dir=str(workdir), command="sleep 300")):
            outcomes = [_copy_looped(kit, name, source, rel) for source, rel in ((src, "looped"), (looped, "loop"))]
            # An exit 0 that copied nothing would pass vacuously: the plain file must land.
            if outcomes[0].endswith("exit 0") and shares_host(kit) and not (workdir / "looped" / "file").is_file():
                raise fail("copy-to of the looping source exited 0 but its plain file never arrived")
    finally:
        # A copy that followed the loop may have left a tree too deep for shutil.rmtree.
        subprocess.run(["rm", "-rf", "--", str(workdir)], check=False, capture_output=True)
    return ", ".join(outcomes)


def _copy_looped(kit: Kit, name: str, source: Path, rel: str) -> str:
    result = kit.run("copy-to", name, str(source), rel)
    if result.not_implemented:
        raise skip("copy-to not implemented (exit 2)")
    if not result.ok and not one_line_error(result):
        said = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise fail(f"copy-to {source.name}: {result.describe()} ({len(said)} lines on stderr)")
    return f"{source.name}: exit {result.exit_code}"


# --- a start killed mid-way -----------------------------------------------------------

PRE_START_SECONDS = 8
#: How long the kill waits for the pre_start's file: it lands as soon as the
#: pre_start is seen running, or after this long for a box the kit cannot see.
KILL_WITHIN = 4.0


def killed_start(kit: Kit, name: str, config: StartConfig, ran: Path) -> bool:
    """Start ``name`` and SIGKILL the start's whole process group mid-way.

    The kill lands once ``ran`` exists (the pre_start runs) or after
    KILL_WITHIN s. True when it landed (the start was still running then).
    """
    kit.track(name)
    proc = subprocess.Popen(
        [*kit.provider.command, "start", name],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=kit.provider.env,
        process_group=0,
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(encode_start_config(config))
        proc.stdin.close()
    except OSError:
        pass
    deadline = time.monotonic() + KILL_WITHIN
    while not ran.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        return False
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    return True


@strict(
    "GC-STRICT-START-005",
    "start",
    "after a start SIGKILLed mid-way, a new start of the name succeeds with one live session",
)
def start_after_kill(kit: Kit) -> str:
    name = kit.name("killed")
    key, first, second = "GC_CONF_MARK", secrets.token_hex(8), secrets.token_hex(8)
    workdir = kit.workdir("killed")
    ran, doomed = slow_pre_start(workdir, key, first, PRE_START_SECONDS)
    try:
        with kit.stopping(name):
            if not killed_start(kit, name, doomed, ran):
                raise skip("start ended before the kit could kill it: runs no pre_start?")
            again = kit.start(name, StartConfig(work_dir=str(workdir), command="sleep 300", env={key: second}))
            if not again.ok:
                raise fail(f"the start after the killed one: {again.describe()}")
            problems = []
            if not running(kit, name):
                problems.append("is-running is false after it")
            listing = kit.run("list-running", name)
            if listing.ok and split_list(listing.output).count(name) != 1:
                problems.append(f"list-running {name!r} answered {listing.output!r}")
            left = procscan.wait_gone(f"{key}={first}", timeout=2.0) if ran.exists() else []
            if left:
                problems.append(
                    f"{len(left)} processes of the killed start remain: "
                    + ", ".join(f"{p.pid} {p.cmdline}" for p in left)
                )
            if problems:
                raise fail("; ".join(problems))
    finally:
        procscan.kill_all(procscan.with_environment_marker(f"{key}={first}"))
    return "" if ran.exists() else "leftover processes not checked: the pre_start ran where the kit cannot see it"


# --- secrets --------------------------------------------------------------------------


@strict(
    "GC-STRICT-SECRET-001",
    "secret",
    "a start env value never appears in any process's argv on the kit's host",
)
def secret_not_in_argv(kit: Kit) -> str:
    if not procscan.available():
        raise skip("this host has no /proc to read process argvs from")
    name = kit.name("secret")
    token = f"gcsecret{secrets.token_hex(16)}"
    config = kit.default_config()._replace(env={"MY_TOKEN": token})
    with procscan.watching_argv(token.encode()) as watch, kit.started(name, config=config):
        for op, args in SECRET_OPS:
            kit.run(op, name, *args)
        time.sleep(0.5)
    if watch.seen:
        shown = ", ".join(f"{p.pid} {_redact(p.cmdline, token)}" for p in watch.seen.values())
        raise fail(f"MY_TOKEN's value was on the command line of {len(watch.seen)} processes: {shown}")
    return f"{watch.scans} scans of every argv, none held the value"


SECRET_OPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("is-running", ()),
    ("get-meta", ("MY_TOKEN",)),
    ("peek", ("5",)),
)


def _redact(cmdline: str, token: str) -> str:
    return cmdline.replace(token, "<MY_TOKEN>")[:160]
