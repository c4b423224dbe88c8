"""The streaming ops and the environment guarantees (``gc runtime conformance --env``).

* ``RPP-CONN-002`` (upstream's planned code for ``proc-stream``): frames arrive while
  the command runs, stdout and stderr apart, and the op exits with the command's code.
  The command prints a first line, then waits for a flag file the kit makes in the box
  (through ``exec``) only once it has read that line: a provider that holds the output
  until the command ends never gets the flag, so the check needs no clock.
* ``GC-STRICT-STREAM-001``: gc cancels ``proc-stream`` by killing the op's process only;
  the command (and what it started) must not outlive it.
* ``GC-STRICT-WATCH-001``: ``watch-startup`` prints one JSON object per line,
  ``{"content": <screen>}``, a new one when the screen changes, and ends on SIGTERM.
* ``ENV-*``: the five ``env.*`` guarantees, each probed through ``exec`` in one session
  only when declared (undeclared: SKIP; none declared: no session is started).

Each op's own absence reads as upstream does: ``proc-stream`` is called only when
``proc.stream`` is declared (SKIP otherwise), ``watch-startup``'s exit 2 is "unsupported"
(SKIP), and an env guarantee whose ``exec`` exits 2 FAILs.
"""

from __future__ import annotations

import secrets
import shlex
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from protocol.conformance import procscan
from protocol.conformance.checks.rpp import read_handshake
from protocol.conformance.checks.strict import shares_host
from protocol.conformance.context import Handshake, Kit
from protocol.conformance.driver import OpResult, stream
from protocol.conformance.gojson import StartConfig
from protocol.conformance.model import Result, Status, fail, skip
from protocol.conformance.registry import Spec, Unit, single, verdict

CONN_002 = Spec("RPP-CONN-002", "rpp", "connection",
                "proc-stream streams a command's output as it comes, with its exit code")
STREAM_001 = Spec("GC-STRICT-STREAM-001", "strict", "stream",
                  "cancelling proc-stream leaves nothing of the command running")
WATCH_001 = Spec("GC-STRICT-WATCH-001", "strict", "watch",
                 "watch-startup prints a JSON screen snapshot per change and ends on SIGTERM")

#: How long the kit waits for a frame or a snapshot it is owed (a stuck provider).
FRAME_WAIT = 20.0
#: How long the command of RPP-CONN-002 waits for the kit's flag (tenths of a second).
FLAG_TENTHS = 300


def handshake_of(kit: Kit) -> Handshake:
    return kit.handshake or read_handshake(kit)


def quoted(*argv: str) -> bytes:
    """A command as gc writes it for exec and proc-stream: a POSIX shell-quoted argv."""
    return " ".join(shlex.quote(a) for a in argv).encode()


def in_box(kit: Kit, name: str, script: str) -> OpResult:
    return kit.run("exec", name, stdin=quoted("sh", "-c", script))


@single(CONN_002)
def rpp_proc_stream(kit: Kit) -> str:
    if not handshake_of(kit).declares("proc.stream"):
        raise skip("proc.stream not declared (gc never calls proc-stream)")
    name = kit.name("stream")
    flag = f"/tmp/gc-conf-stream-{secrets.token_hex(6)}"
    script = (
        "printf 'GC_STREAM_FIRST\\n'; printf 'GC_STREAM_ERR\\n' >&2; i=0; "
        f"while [ ! -e {flag} ] && [ $i -lt {FLAG_TENTHS} ]; do sleep 0.1; i=$((i+1)); done; "
        f"[ -e {flag} ] && printf 'GC_STREAM_SECOND\\n'; rm -f {flag}; exit 5"
    )
    with kit.started(name):
        op = stream(kit.provider, "proc-stream", name, stdin=quoted("sh", "-c", script))
        try:
            first = op.wait_for(lambda out: b"GC_STREAM_FIRST\n" in out, FRAME_WAIT)
            live = op.running()
            if first and live:
                made = in_box(kit, name, f": > {flag}")
                if made.not_implemented:  # no exec: a box on this host is reachable directly
                    Path(flag).touch()
        finally:
            result = op.finish(FRAME_WAIT + FLAG_TENTHS / 10)
            Path(flag).unlink(missing_ok=True)
    if not first:
        raise fail(f"no frame of the command's stdout arrived: {result.describe()}")
    if b"GC_STREAM_SECOND" not in result.stdout:
        raise fail("the first frame came only when the command had ended (output held back "
                   f"until exit?): {result.describe()}")
    if result.exit_code != 5:
        raise fail(f"the op must exit with the command's code 5: {result.describe()}")
    if b"GC_STREAM_ERR" not in result.stderr or b"GC_STREAM_ERR" in result.stdout:
        raise fail(f"the command's stderr must arrive on stderr, apart from stdout: "
                   f"stdout {result.stdout!r}, stderr {result.stderr!r}")
    return "frames before the end, stderr apart, exit 5"


@single(STREAM_001)
def strict_stream_cancel(kit: Kit) -> str:
    if not handshake_of(kit).declares("proc.stream"):
        raise skip("proc.stream not declared (gc never calls proc-stream)")
    if not procscan.available() or not shares_host(kit):
        raise skip("the box's processes are not visible from the kit's host (a remote box?)")
    name = kit.name("stream")
    mark = f"{3000 + secrets.randbelow(999)}.{secrets.randbelow(10**8):08d}"
    script = f"sleep {mark}1 & printf 'GC_STREAM_UP\\n'; sleep {mark}2; wait"
    with kit.started(name):
        op = stream(kit.provider, "proc-stream", name, stdin=quoted("sh", "-c", script))
        try:
            up = op.wait_for(lambda out: b"GC_STREAM_UP" in out, FRAME_WAIT)
            seen = procscan.with_argv_containing(mark.encode())
            op.cancel(signal.SIGKILL)  # gc kills the op's process, not its group
        finally:
            result = op.finish(FRAME_WAIT)
        survivors = _wait_gone(mark.encode(), 5.0)
        procscan.kill_all(survivors)
    if not up:
        raise fail(f"the command never printed: {result.describe()}")
    if not seen:
        raise skip("the command's processes were not visible from the kit's host")
    if survivors:
        shown = "; ".join(f"pid {p.pid}: {p.cmdline}" for p in survivors)
        raise fail(f"after proc-stream was killed its command still runs: {shown}")
    return f"{len(seen)} process(es) of the command, none left"


def _wait_gone(needle: bytes, timeout: float) -> list[procscan.Process]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = procscan.with_argv_containing(needle)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def snapshots(out: bytes) -> list[str]:
    """The complete lines of a watch as snapshots; a line that is not one FAILs."""
    shots = []
    for number, line in enumerate(out.split(b"\n")[:-1], 1):
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise fail(f"watch-startup line {number} is not JSON: {line[:120]!r}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("content"), str):
            raise fail(f"watch-startup line {number} is not an object with a string content: {line[:120]!r}")
        shots.append(doc["content"])
    return shots


def _has(marker: str) -> object:
    def seen(out: bytes) -> bool:
        return any(marker in shot for shot in snapshots(out))

    return seen


@single(WATCH_001)
def strict_watch_startup(kit: Kit) -> str:
    # Exit 2 needs no session to say so (a pod start spared); an implemented watch of a
    # session that is not there may end or wait: either way it is looked at for real below.
    probe = kit.provider.run("watch-startup", kit.name("watch-never"), timeout=3.0)
    if probe.not_implemented:
        raise skip("watch-startup not implemented (exit 2): gc polls peek")
    name = kit.name("watch")
    config = StartConfig(work_dir=str(kit.workdir()), command="echo GC_WATCH_READY; exec sleep 300")
    with kit.started(name, config=config):
        op = stream(kit.provider, "watch-startup", name)
        try:
            ready = op.wait_for(_has("GC_WATCH_READY"), FRAME_WAIT)  # type: ignore[arg-type]
            if not ready and not op.running() and op.proc.returncode == 2 and not op.stdout:
                raise skip("watch-startup not implemented (exit 2): gc polls peek")
            if not ready:
                raise fail(f"no snapshot showed the screen's GC_WATCH_READY; stdout {op.stdout[:300]!r}")
            typed = kit.run("send-keys", name, "GC_WATCH_TYPED")
            if typed.not_implemented:
                typed = kit.run("nudge", name, stdin=b"GC_WATCH_TYPED")
            changed = op.wait_for(_has("GC_WATCH_TYPED"), FRAME_WAIT)  # type: ignore[arg-type]
            count = len(snapshots(op.stdout))
            op.cancel(signal.SIGTERM)
        finally:
            if op.running():
                op.cancel(signal.SIGTERM)
            result = op.finish(5.0)
    if not changed:
        raise fail(f"no new snapshot after the screen changed ({typed.describe()}); "
                   f"{count} snapshot(s)")
    if result.timed_out:
        raise fail("watch-startup did not end within 5 s of SIGTERM")
    if result.exit_code not in (0, -signal.SIGTERM, 143):
        raise fail(f"watch-startup must end cleanly on SIGTERM: {result.describe()}")
    snapshots(result.stdout)  # every line, the last included, is a snapshot
    return f"{count} snapshot(s), ended on SIGTERM"


STREAM_UNITS = (rpp_proc_stream, strict_stream_cancel, strict_watch_startup)


# --- the env.* guarantees ----------------------------------------------------------

ENV_SPECS = (
    Spec("ENV-WORKSPACE", "env", "environment", "env.workspace: exec runs in the start config's work_dir"),
    Spec("ENV-TOOLING", "env", "environment", "env.tooling: gc, bd and git run in the box"),
    Spec("ENV-IDENTITY", "env", "environment", "env.identity: GC_SESSION is the session name; whoami answers"),
    Spec("ENV-LEDGER", "env", "environment", "env.ledger: bd ready in the box reaches GC_BEADS_API"),
    Spec("ENV-TRANSCRIPTS", "env", "environment",
         "env.transcripts: a file in GC_TRANSCRIPTS_SRC arrives in GC_TRANSCRIPTS_DEST at stop"),
)
SENTINEL_FILE = ".gc-cb-sentinel"
SENTINEL = "GC_CAPABILITY_WORKSPACE_OK"


class _Ledger(BaseHTTPRequestHandler):
    """The gc beads API as the env suite stands it up: ``GET /v0/beads/ready`` only."""

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/v0/beads/ready":
            body = b'{"ready":[]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b'{"error":"not found"}'
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def ledger() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ledger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_env_suite(kit: Kit) -> list[Result]:
    handshake = handshake_of(kit)
    declared = {spec.code: handshake.declares("env." + spec.code.split("-", 1)[1].lower())
                for spec in ENV_SPECS}
    if not any(declared.values()):
        return [spec.result(Status.SKIP, "not declared") for spec in ENV_SPECS]
    name = kit.name("cb")
    work = kit.workdir("cb")
    (work / SENTINEL_FILE).write_text(SENTINEL)
    src = tempfile.mkdtemp(prefix="gc-cb-src-", dir=kit.root)
    dest = tempfile.mkdtemp(prefix="gc-cb-dest-", dir=kit.root)
    env = {"GC_TRANSCRIPTS_SRC": src, "GC_TRANSCRIPTS_DEST": dest}
    results: dict[str, Result] = {}

    def run(op: str, stdin: bytes | None = None) -> OpResult:
        return kit.provider.run(op, name, stdin=stdin, env=env)

    def exec_(*argv: str) -> OpResult:
        result = run("exec", quoted(*argv))
        if result.not_implemented:
            raise fail("declared, but exec exits 2 (every env probe runs through exec)")
        return result

    def workspace(_kit: Kit) -> str:
        got = exec_("cat", SENTINEL_FILE)
        if not got.ok or got.output.strip() != SENTINEL:
            raise fail(f"cat {SENTINEL_FILE} in the work dir: {got.describe()}")
        return ""

    def tooling(_kit: Kit) -> str:
        for tool in ("gc", "bd", "git"):
            got = exec_(tool, "version")
            if not got.ok:
                raise fail(f"{tool} version: {got.describe()}")
        return ""

    def identity(_kit: Kit) -> str:
        got = exec_("printenv", "GC_SESSION")
        if not got.ok or got.output.strip() != name:
            raise fail(f"printenv GC_SESSION must print {name}: {got.describe()}")
        who = exec_("whoami")
        if not who.ok or not who.output.strip():
            raise fail(f"whoami: {who.describe()}")
        return f"whoami: {who.output.strip()}"

    def ledger_probe(_kit: Kit) -> str:
        got = exec_("bd", "ready")
        if not got.ok:
            raise fail(f"bd ready: {got.describe()}")
        return ""

    marker = f"gc-cb-transcript-{secrets.token_hex(6)}"

    def transcripts(_kit: Kit) -> str:
        planted = exec_("sh", "-c", f'mkdir -p "{src}" && printf %s {marker} > "{src}/transcript.jsonl"')
        if not planted.ok:
            raise fail(f"planting the transcript: {planted.describe()}")
        stopped = run("stop")
        if not stopped.ok:
            raise fail(f"stop: {stopped.describe()}")
        arrived = Path(dest) / "transcript.jsonl"
        if not arrived.is_file() or arrived.read_text(errors="replace") != marker:
            raise fail(f"{arrived} did not arrive with the marker after stop")
        return ""

    probes = {"ENV-WORKSPACE": workspace, "ENV-TOOLING": tooling, "ENV-IDENTITY": identity,
              "ENV-LEDGER": ledger_probe, "ENV-TRANSCRIPTS": transcripts}
    with ledger() as url, kit.stopping(name):
        config = StartConfig(work_dir=str(work), command="sleep 300",
                             env={"GC_SESSION": name, "GC_BEADS_API": url})
        kit.track(name)
        from protocol.conformance.gojson import encode_start_config

        started = kit.provider.run("start", name, stdin=encode_start_config(config), env=env)
        for spec in ENV_SPECS:
            if not declared[spec.code]:
                results[spec.code] = spec.result(Status.SKIP, "not declared")
            elif not started.ok:
                results[spec.code] = spec.result(Status.FAIL, f"start: {started.describe()}")
            else:
                results[spec.code] = verdict(spec, probes[spec.code], kit)
    return [results[spec.code] for spec in ENV_SPECS]


ENV_UNIT = Unit(ENV_SPECS, run_env_suite)
