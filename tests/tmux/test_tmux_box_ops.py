"""gc-session-tmux's box ops on real tmux (an isolated socket per test): exec, provision
and the launch gc carries over exec, watch-startup, proc-stream, the transcripts copy-back."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from bad_input import clear, run_closed_stdin
from helpers import executable, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXE = executable("gc-session-tmux")


class Box:
    """gc-session-tmux on a private socket and state dir, counting every process it starts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {**os.environ, "GC_TMUX_SOCKET": str(root / "s"),
                    "GC_EXEC_STATE_DIR": str(root / "state")}
        self.env.pop("TMUX", None)
        self.spawned = 0

    def run(self, op: str, *args: str, stdin: bytes = b"",
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        self.spawned += 1
        return subprocess.run([*EXE, op, *args], input=stdin, capture_output=True, timeout=60,
                              env={**self.env, **(env or {})}, check=False)

    def popen(self, op: str, *args: str, stdin: bytes | None = None) -> subprocess.Popen[bytes]:
        self.spawned += 1
        proc = subprocess.Popen([*EXE, op, *args], stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                                process_group=0)
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        return proc

    def start(self, name: str, **config: object) -> None:
        res = self.run("start", name, stdin=orjson.dumps(config))
        assert res.returncode == 0, res.stderr

    def exec(self, name: str, *argv: str) -> subprocess.CompletedProcess[bytes]:
        return self.run("exec", name, stdin=quoted(*argv))


def quoted(*argv: str) -> bytes:
    return " ".join(shlex.quote(a) for a in argv).encode()


@pytest.fixture
def box() -> Iterator[Box]:
    root = Path("/tmp") / f"gcx-{uuid.uuid4().hex[:10]}"
    root.mkdir(mode=0o700)
    b = Box(root)
    yield b
    subprocess.run(["tmux", "-S", str(root / "s"), "kill-server"], capture_output=True, check=False)
    subprocess.run(["rm", "-rf", str(root)], check=False)


def until(check: Callable[[], bool], seconds: float = 20.0) -> bool:
    return wait_for(check, timeout=seconds)


class Lines:
    """A process's stdout read line by line in a thread (a stream as gc reads it)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: list[bytes] = []
        assert proc.stdout is not None
        self.thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream: object) -> None:
        for line in iter(stream.readline, b""):  # type: ignore[attr-defined]
            self.lines.append(line)

    def seen(self, needle: bytes) -> bool:
        return any(needle in line for line in list(self.lines))


# --- exec and provision ------------------------------------------------------------


def test_exec_runs_in_the_work_dir_with_the_session_env_and_exits_with_its_code(box: Box, tmp_path: Path) -> None:
    box.start("x1", work_dir=str(tmp_path), command="sleep 300", env={"GC_SESSION": "x1", "ODD": "a b;\n$c"})
    res = box.exec("x1", "sh", "-c", 'pwd; printf "%s|" "$ODD" "$GC_SESSION"; echo oops >&2; exit 42')
    assert res.returncode == 42
    assert res.stdout.decode() == f"{tmp_path}\na b;\n$c|x1|oops\n"


def test_exec_reaches_a_session_started_before_boxes_were_recorded(box: Box, tmp_path: Path) -> None:
    box.start("old", work_dir=str(tmp_path), command="sleep 300")
    (record,) = (box.root / "state" / "tmux" / "boxes").glob("*/old")
    assert (record / "box.json").is_file()
    subprocess.run(["rm", "-rf", str(record)], check=True)  # as an earlier release left it
    res = box.exec("old", "sh", "-c", 'pwd; printf "%s" "$GC_SESSION"')
    assert (res.returncode, res.stdout.decode()) == (0, f"{tmp_path}\nold")
    assert (record / "box.json").is_file()


def test_exec_exit_2_is_the_commands_own(box: Box, tmp_path: Path) -> None:
    box.start("x2", work_dir=str(tmp_path), command="sleep 300")
    assert box.run("exec", "x2", stdin=b"exit 2").returncode == 2


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=80))
def test_exec_gives_back_any_argument_byte_for_byte(box: Box, tmp_path: Path, text: str) -> None:
    if box.run("is-running", "xp").stdout.strip() != b"true":
        box.start("xp", work_dir=str(tmp_path), command="sleep 300")
    res = box.exec("xp", "printf", "%s", text)
    assert (res.returncode, res.stdout.decode()) == (0, text)


def test_provision_builds_the_box_without_the_agent_and_gcs_launch_over_exec_starts_it(
        box: Box, tmp_path: Path) -> None:
    config = {"work_dir": str(tmp_path), "command": "sleep 300", "env": {"GC_SESSION": "p1", "V": "v;"},
              "pre_start": ["touch pre"], "session_setup": ["touch setup"], "session_live": ["touch live"]}
    res = box.run("provision", "p1", stdin=orjson.dumps(config))
    assert res.returncode == 0, res.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"pre", "setup", "live"}
    assert box.run("is-running", "p1").stdout.strip() == b"false"
    # What gc sends through exec once proc.provision and proc.exec are declared.
    assert box.exec("p1", "tmux", "has-session", "-t", "main").returncode != 0
    launched = box.exec("p1", "tmux", "new-session", "-d", "-s", "main", 'echo "agent $V in $PWD"; exec sleep 300')
    assert launched.returncode == 0, launched.stdout
    assert box.run("is-running", "p1").stdout.strip() == b"true"
    assert (box.root / "s.server-pid").is_file()  # revive can find the server the launch started
    assert until(lambda: f"agent v; in {tmp_path}".encode() in box.run("peek", "p1", "5").stdout)
    # A launch-only change relaunches in the warm box: the pane respawns, the box stays.
    again = box.exec("p1", "tmux", "respawn-pane", "-k", "-t", "main", 'echo "relaunched $V"; exec sleep 300')
    assert again.returncode == 0, again.stdout
    assert until(lambda: b"relaunched v;" in box.run("peek", "p1", "5").stdout)
    typed = box.exec("p1", "tmux", "send-keys", "-t", "main", "-l", "hello;")
    assert typed.returncode == 0
    captured = box.exec("p1", "tmux", "capture-pane", "-t", "main", "-p", "-S", "-5")
    assert b"hello;" in captured.stdout
    assert box.run("stop", "p1").returncode == 0
    assert box.run("is-running", "p1").stdout.strip() == b"false"
    assert box.exec("p1", "true").returncode == 1  # the box is gone with the session


def test_a_start_refuses_a_provisioned_box_that_was_launched(box: Box, tmp_path: Path) -> None:
    assert box.run("provision", "p2", stdin=orjson.dumps({"work_dir": str(tmp_path)})).returncode == 0
    assert box.exec("p2", "tmux", "new-session", "-d", "-s", "main", "sleep 300").returncode == 0
    again = box.run("provision", "p2", stdin=b"{}")
    assert again.returncode == 1 and b"already exists" in again.stderr


# --- watch-startup ---------------------------------------------------------------

DIALOG = ("echo booting; while [ ! -e go ]; do sleep 0.05; done; "
          "printf 'Do you trust this folder? (y/n) '; read answer; echo READY-$answer; exec sleep 300")


def dismiss_by_peek(box: Box, name: str, flag: Path) -> None:
    """gc without watch-startup: a peek per look, until the dialog shows and is gone."""
    box.run("peek", name, "0")
    flag.touch()  # the dialog appears only after the first look
    assert until(lambda: b"trust this folder" in box.run("peek", name, "0").stdout)
    box.run("send-keys", name, "y", "Enter")
    assert until(lambda: b"READY-y" in box.run("peek", name, "0").stdout)


def dismiss_by_watch(box: Box, name: str, flag: Path) -> None:
    """gc with watch-startup: one process streams every screen; keys go through send-keys."""
    watch = box.popen("watch-startup", name)
    lines = Lines(watch)
    try:
        assert until(lambda: bool(lines.lines))
        flag.touch()
        assert until(lambda: lines.seen(b"trust this folder"))
        box.run("send-keys", name, "y", "Enter")
        assert until(lambda: lines.seen(b"READY-y"))
    finally:
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=20) == 0
    for line in lines.lines:
        assert set(orjson.loads(line)) == {"content"}


def test_a_startup_dialog_is_dismissed_with_fewer_provider_processes_through_watch_startup(
        box: Box, tmp_path: Path) -> None:
    counts = {}
    for way, dismiss in (("peek", dismiss_by_peek), ("watch", dismiss_by_watch)):
        work = tmp_path / way
        work.mkdir()
        box.start(f"d-{way}", work_dir=str(work), command=DIALOG)
        before = box.spawned
        dismiss(box, f"d-{way}", work / "go")
        counts[way] = box.spawned - before
    assert counts["watch"] == 2  # the watch and the one send-keys
    assert counts["peek"] >= 4
    assert counts["watch"] < counts["peek"]


def test_watch_startup_ends_cleanly_when_its_reader_goes_away(box: Box, tmp_path: Path) -> None:
    box.start("w2", work_dir=str(tmp_path), command="sleep 300")
    watch = box.popen("watch-startup", "w2")
    assert watch.stdout is not None
    assert watch.stdout.readline().startswith(b'{"content":')
    watch.stdout.close()
    box.run("send-keys", "w2", "x")  # a change: the next snapshot meets the closed pipe
    assert watch.wait(timeout=20) == 0


def test_watch_startup_on_a_missing_session_is_one_line_and_exit_1(box: Box) -> None:
    res = box.run("watch-startup", "nobody")
    assert res.returncode == 1 and res.stdout == b""
    assert res.stderr.decode().count("\n") == 1 and b"not found" in res.stderr


# --- proc-stream -----------------------------------------------------------------


def test_proc_stream_frames_arrive_before_a_slow_command_ends_and_its_exit_is_the_op_s(
        box: Box, tmp_path: Path) -> None:
    box.start("s1", work_dir=str(tmp_path), command="sleep 300")
    flag = tmp_path / "flag"
    script = f"echo first; echo apart >&2; while [ ! -e {flag} ]; do sleep 0.05; done; echo second; exit 7"
    op = box.popen("proc-stream", "s1", stdin=quoted("sh", "-c", script))
    lines = Lines(op)
    assert until(lambda: lines.seen(b"first"))
    assert op.poll() is None  # the command cannot end before the flag exists
    flag.touch()
    assert op.wait(timeout=20) == 7
    lines.thread.join(10)
    assert b"".join(lines.lines) == b"first\nsecond\n"
    assert op.stderr is not None and op.stderr.read() == b"apart\n"


def live_with(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                pids.append(int(entry))
    return pids


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_cancelling_proc_stream_leaves_nothing_of_the_command_running(
        box: Box, tmp_path: Path, how: signal.Signals) -> None:
    box.start("s2", work_dir=str(tmp_path), command="sleep 300")
    marker = f"{3000 + os.getpid() % 900}.{uuid.uuid4().int % 10**8:08d}"
    script = f"sleep {marker}1 & echo up; sleep {marker}2; wait"
    op = box.popen("proc-stream", "s2", stdin=quoted("sh", "-c", script))
    lines = Lines(op)
    assert until(lambda: lines.seen(b"up") and len(live_with(marker)) >= 2)
    op.send_signal(how)  # gc kills the op's process alone, not its group
    op.wait(timeout=20)
    assert until(lambda: not live_with(marker)), live_with(marker)


def test_a_command_killed_by_a_signal_is_128_plus_the_signal(box: Box, tmp_path: Path) -> None:
    box.start("s3", work_dir=str(tmp_path), command="sleep 300")
    res = box.run("proc-stream", "s3", stdin=b"kill -9 $$")
    assert res.returncode == 128 + 9


@pytest.mark.parametrize("op", ["exec", "proc-stream"])
@pytest.mark.parametrize(("payload", "why"), [
    (b"echo a\0b", b"NUL"),
    (b"echo " + b"x" * (200 * 1024), b"at most"),
    (b"", b"no command"),
])
def test_a_bad_command_is_one_line_and_exit_1(box: Box, tmp_path: Path, op: str, payload: bytes,
                                              why: bytes) -> None:
    box.start("b1", work_dir=str(tmp_path), command="sleep 300")
    res = box.run(op, "b1", stdin=payload)
    assert res.returncode == 1 and res.stdout == b""
    assert res.stderr.count(b"\n") == 1 and why in res.stderr


@pytest.mark.parametrize("op", ["exec", "proc-stream", "watch-startup", "provision"])
@pytest.mark.parametrize("name", ["a;", "-x", "a b", ""])
def test_a_bad_session_name_is_one_line_and_exit_1(box: Box, op: str, name: str) -> None:
    res = box.run(op, name, stdin=b"true")
    assert res.returncode == 1 and res.stdout == b""
    assert res.stderr.count(b"\n") == 1


@pytest.mark.parametrize("op", ["exec", "proc-stream", "provision"])
def test_a_closed_stdin_is_one_line_and_exit_1(box: Box, tmp_path: Path, op: str) -> None:
    box.start("c1", work_dir=str(tmp_path), command="sleep 300")
    res = run_closed_stdin([*EXE, op, "c1"], box.env)
    assert res.rc == 1 and res.out == "" and clear(res) and res.err.strip()


def test_exec_and_proc_stream_on_a_session_never_started_are_one_line_and_exit_1(box: Box) -> None:
    for op in ("exec", "proc-stream"):
        res = box.run(op, "never", stdin=b"true")
        assert res.returncode == 1 and res.stderr.count(b"\n") == 1 and b"not found" in res.stderr


# --- transcripts -----------------------------------------------------------------


def test_stop_copies_the_transcripts_back_without_following_links_out(box: Box, tmp_path: Path) -> None:
    src, dest, work = tmp_path / "src", tmp_path / "dest", tmp_path / "work"
    secret = tmp_path / "secret"
    secret.write_text("not yours")
    box.start("t1", work_dir=str(work), command="sleep 300")
    planted = box.exec("t1", "sh", "-c", f"mkdir -p {src}/sub && printf m > {src}/transcript.jsonl && "
                                         f"printf n > {src}/sub/more.jsonl && ln -s {secret} {src}/leak")
    assert planted.returncode == 0, planted.stdout
    env = {"GC_TRANSCRIPTS_SRC": str(src), "GC_TRANSCRIPTS_DEST": str(dest)}
    stopped = box.run("stop", "t1", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert (dest / "transcript.jsonl").read_text() == "m"
    assert (dest / "sub" / "more.jsonl").read_text() == "n"
    assert not (dest / "leak").exists()
    # A stop of a session that is gone copies nothing again.
    (dest / "transcript.jsonl").unlink()
    assert box.run("stop", "t1", env=env).returncode == 0
    assert not (dest / "transcript.jsonl").exists()


def test_gcs_carried_keys_arrive_literally_even_ending_in_a_semicolon(box: Box, tmp_path: Path) -> None:
    box.start("k1", work_dir=str(tmp_path), command="cat")
    words = ["a;", ";", "b\\;", ";;", "#{pid}", "$HOME", "main"]
    assert box.exec("k1", "tmux", "send-keys", "-t", "main", "-l", *words).returncode == 0
    assert box.exec("k1", "tmux", "send-keys", "-t", "main", "Enter").returncode == 0
    typed = "".join(words)
    assert until(lambda: typed.encode() in box.exec("k1", "tmux", "capture-pane", "-t", "main", "-p").stdout)
    assert box.exec("k1", "tmux", "has-session", "-t", "main").returncode == 0
