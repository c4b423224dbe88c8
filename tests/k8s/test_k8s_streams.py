"""gc-session-k8s's streaming ops on the offline API server: watch-startup over one exec for
the whole watch, proc-stream (frames before the end, the command's exit, cancellation
ends the command's whole process group in the pod), and the env.* guarantees it keeps
(GC_SESSION in exec, the tools path, transcripts back at stop)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import box_tools, wait_for
from k8s_helpers import K8s

BOX_TOOLS = box_tools()  # where a pod's user can run them


def quoted(*argv: str) -> bytes:
    return " ".join(shlex.quote(a) for a in argv).encode()


def until(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    return wait_for(check, timeout=seconds)


class Counted:
    """The provider's calls as gc makes them, each counted (one provider process each)."""

    def __init__(self, k8s: K8s) -> None:
        self.k8s = k8s
        self.spawned = 0

    def run(self, op: str, *args: str, stdin: bytes = b"") -> Any:
        self.spawned += 1
        return self.k8s.run(op, *args, stdin=stdin)

    def popen(self, op: str, *args: str, stdin: bytes = b"") -> subprocess.Popen[bytes]:
        self.spawned += 1
        return self.k8s.spawn(op, *args, stdin=stdin)


class Lines:
    """A process's stdout read as it comes, in a thread (a stream as gc reads it)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.data = b""
        assert proc.stdout is not None
        self.thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        while chunk := os.read(stream.fileno(), 65536):
            self.data += chunk

    def seen(self, needle: bytes) -> bool:
        return needle in self.data


def kubectls_into(name: str) -> list[int]:
    """The controller's kubectl processes exec'ing into ``name``'s pod."""
    from gc_session_k8s.naming import session_pod

    pod = session_pod(name, "").encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"exec" in argv and pod in argv and os.path.basename(argv[0]) == b"kubectl":
                found.append(int(entry))
    return found


def exec_requests(k8s: K8s, needle: str) -> list[dict[str, Any]]:
    """The exec upgrades the API server saw whose command holds ``needle``."""
    from urllib.parse import unquote_plus

    return [r for r in k8s.server.requests()
            if str(r.get("path", "")).endswith("/exec") and needle in unquote_plus(str(r.get("query", "")))]


# --- watch-startup ---------------------------------------------------------------

#: A dialog that shows once ``{flag}`` exists (made through exec after the first look).
DIALOG = ("echo booting; while [ ! -e {flag} ]; do sleep 0.05; done; "
          "printf 'Do you trust this folder? (y/n) '; read answer; echo READY-$answer; exec sleep 300")


def dismiss_by_peek(gc: Counted, name: str, flag: str) -> None:
    gc.run("peek", name, "0")
    assert gc.run("exec", name, stdin=quoted("touch", flag)).rc == 0  # the dialog comes after a look
    assert until(lambda: "trust this folder" in gc.run("peek", name, "0").out)
    gc.run("send-keys", name, "y", "Enter")
    assert until(lambda: "READY-y" in gc.run("peek", name, "0").out)


def dismiss_by_watch(gc: Counted, name: str, flag: str) -> None:
    watch = gc.popen("watch-startup", name)
    lines = Lines(watch)
    try:
        assert until(lambda: b"booting" in lines.data), lines.data
        assert gc.run("exec", name, stdin=quoted("touch", flag)).rc == 0
        assert until(lambda: lines.seen(b"trust this folder")), lines.data
        gc.run("send-keys", name, "y", "Enter")
        assert until(lambda: lines.seen(b"READY-y")), lines.data
    finally:
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=20) == 0
    lines.thread.join(10)
    shots = [orjson.loads(line)["content"] for line in lines.data.splitlines()]
    assert all(a != b for a, b in pairwise(shots))  # a new one per change


def test_a_startup_dialog_is_dismissed_with_fewer_processes_and_one_exec_for_the_whole_watch(
        k8s: K8s) -> None:
    gc = Counted(k8s)
    counts = {}
    for way, dismiss in (("peek", dismiss_by_peek), ("watch", dismiss_by_watch)):
        name = k8s.name(f"d{way}")
        flag = f"/tmp/go-{name}"
        assert k8s.start(name, {"command": DIALOG.format(flag=flag)}).rc == 0
        k8s.server.clear_requests()
        before = gc.spawned
        dismiss(gc, name, flag)
        counts[way] = gc.spawned - before
        if way == "watch":
            watches = exec_requests(k8s, "capture-pane")
            assert len(watches) == 1, watches  # every snapshot came over the one exec
    assert counts["watch"] == 3  # the watch, the exec that shows the dialog, one send-keys
    assert counts["peek"] >= 5
    assert counts["watch"] < counts["peek"]


def test_watch_startup_ends_by_itself_when_the_session_ends(k8s: K8s) -> None:
    name = k8s.name("wend")
    assert k8s.start(name, {"command": "echo up; sleep 300"}).rc == 0
    watch = k8s.spawn("watch-startup", name)
    lines = Lines(watch)
    assert until(lambda: lines.seen(b"up"))
    assert k8s.run("exec", name, stdin=b"tmux kill-server").rc in (0, 1)
    assert watch.wait(timeout=30) == 0


def test_watch_startup_of_a_missing_session_is_one_line_and_exit_1(k8s: K8s) -> None:
    res = k8s.run("watch-startup", "nobody-here")
    assert res.rc == 1 and res.out == ""
    assert res.err.count("\n") == 1 and "not running" in res.err


def test_a_cancelled_watch_leaves_nothing_running_in_the_pod(k8s: K8s) -> None:
    name = k8s.name("wcan")
    assert k8s.start(name, {"command": "sleep 300"}).rc == 0
    watch = k8s.spawn("watch-startup", name)
    lines = Lines(watch)
    assert until(lambda: lines.seen(b'{"content":'))
    assert kubectls_into(name)
    watch.send_signal(signal.SIGKILL)  # as gc's WaitDelay ends it
    watch.wait(timeout=20)
    assert until(lambda: "capture-pane" not in k8s.ok("exec", name, stdin=b"ps -A -o args="))
    assert until(lambda: not kubectls_into(name))  # its kubectl followed it


# --- proc-stream -----------------------------------------------------------------


def test_proc_stream_frames_arrive_before_a_slow_command_ends_and_its_exit_is_the_op_s(k8s: K8s) -> None:
    name = k8s.name("ps")
    assert k8s.start(name, {"command": "sleep 300"}).rc == 0
    flag = f"/tmp/flag-{uuid.uuid4().hex[:8]}"
    script = f"echo first; echo apart >&2; while [ ! -e {flag} ]; do sleep 0.05; done; echo second; exit 7"
    op = k8s.spawn("proc-stream", name, stdin=quoted("sh", "-c", script))
    lines = Lines(op)
    assert until(lambda: lines.seen(b"first"))
    assert op.poll() is None  # the command cannot end before the flag exists
    assert k8s.run("exec", name, stdin=quoted("touch", flag)).rc == 0
    assert op.wait(timeout=30) == 7
    lines.thread.join(10)
    assert lines.data == b"first\nsecond\n"
    assert op.stderr is not None and op.stderr.read() == b"apart\n"
    assert len(exec_requests(k8s, "gc-rc")) == 1


def test_proc_stream_runs_in_the_work_dir_reads_nothing_and_passes_any_exit(k8s: K8s) -> None:
    name = k8s.name("pw")
    assert k8s.start(name, {"command": "sleep 300"}).rc == 0
    res = k8s.run("proc-stream", name, stdin=b"pwd; cat; printf %s \"$GC_SESSION\"; exit 3",
                  env={"GC_K8S_TRANSPORT": "kubectl"})
    assert (res.rc, res.out) == (3, f"/workspace\n{name}"), res.err
    assert k8s.run("proc-stream", name, stdin=b"kill -9 $$").rc == 128 + 9
    mimic = k8s.run("proc-stream", name, stdin=b"printf '\\036gc-rc:9\\n'; exit 0")
    assert (mimic.rc, mimic.out) == (0, "\x1egc-rc:9\n")  # only the pod side's last word counts


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_cancelling_proc_stream_kills_the_commands_whole_group_in_the_pod(
        k8s: K8s, how: signal.Signals) -> None:
    name = k8s.name("pc")
    assert k8s.start(name, {"command": "sleep 300"}).rc == 0
    marker = f"{3000 + os.getpid() % 900}.{uuid.uuid4().int % 10**8:08d}"
    script = f"sleep {marker}1 & (sleep {marker}3 &) ; echo up; sleep {marker}2; wait"
    op = k8s.spawn("proc-stream", name, stdin=quoted("sh", "-c", script))
    lines = Lines(op)

    def running() -> int:
        listing = k8s.ok("exec", name, stdin=b"ps -A -o args=")
        return sum(marker in line for line in listing.splitlines())

    assert until(lambda: lines.seen(b"up") and running() >= 3)
    assert kubectls_into(name)
    op.send_signal(how)  # gc ends the op's process alone, not its group
    code = op.wait(timeout=30)
    if how == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM
    assert until(lambda: running() == 0)
    assert until(lambda: not kubectls_into(name))  # its kubectl followed it


def test_proc_stream_of_a_missing_session_is_one_line_and_exit_1(k8s: K8s) -> None:
    res = k8s.run("proc-stream", "nobody-here", stdin=b"true")
    assert res.rc == 1 and res.out == "" and res.err.count("\n") == 1


@pytest.mark.parametrize(("payload", "why"), [
    (b"echo a\0b", "NUL"),
    (b"echo " + b"x" * (200 * 1024), "at most"),
    (b"", "no command"),
])
def test_a_bad_proc_stream_command_is_one_line_and_exit_1(k8s: K8s, payload: bytes, why: str) -> None:
    res = k8s.run("proc-stream", "any-session", stdin=payload)
    assert res.rc == 1 and res.out == "" and res.err.count("\n") == 1 and why in res.err


# --- env.* -----------------------------------------------------------------------


def test_the_handshake_declares_what_the_settings_let_the_pod_keep(k8s: K8s) -> None:
    def caps(**env: str) -> set[str]:
        return set(orjson.loads(k8s.ok("protocol", env=env))["capabilities"])

    base = {"report-activity", "report-attachment", "proc.exec", "proc.provision", "proc.stream"}
    assert caps() == base | {"env.workspace", "env.identity", "env.transcripts"}
    assert caps(GC_K8S_TOOLS_PATH=str(BOX_TOOLS)) == base | {
        "env.workspace", "env.identity", "env.transcripts", "env.tooling"}
    assert caps(GC_K8S_PREBAKED="1") == base | {"env.identity", "env.transcripts"}


def test_exec_has_the_session_name_and_the_tools_path(k8s: K8s) -> None:
    name = k8s.name("id")
    tools = {"GC_K8S_TOOLS_PATH": str(BOX_TOOLS)}
    assert k8s.start(name, {"command": "sleep 300"}, env=tools).rc == 0
    assert k8s.ok("exec", name, stdin=b"printenv GC_SESSION") == name
    assert k8s.ok("exec", name, stdin=b"gc version", env=tools).startswith("gc version")
    assert k8s.run("exec", name, stdin=b"whoami").rc == 0


def test_a_start_declaring_tools_the_image_lacks_fails_with_one_line(k8s: K8s, tmp_path: Path) -> None:
    name = k8s.name("nt")
    res = k8s.start(name, {"command": "sleep 300"}, env={"GC_K8S_TOOLS_PATH": str(tmp_path / "none")})
    assert res.rc == 1 and "env.tooling" in res.err and res.err.count("\n") == 1
    assert not [p for p in k8s.pods() if p["metadata"]["annotations"].get("gc-session-name") == name]


def test_stop_brings_the_transcripts_back_without_links_out(k8s: K8s, tmp_path: Path) -> None:
    name = k8s.name("tr")
    assert k8s.start(name, {"command": "sleep 300"}).rc == 0
    src = f"/tmp/gc-src-{uuid.uuid4().hex[:8]}"  # the pod's own /tmp
    dest = tmp_path / "dest"
    planted = k8s.run("exec", name, stdin=quoted(
        "sh", "-c", f"mkdir -p {src}/sub && printf m > {src}/transcript.jsonl && "
                    f"printf n > {src}/sub/more.jsonl && ln -s /etc/passwd {src}/leak"))
    assert planted.rc == 0, planted.out
    env = {"GC_TRANSCRIPTS_SRC": src, "GC_TRANSCRIPTS_DEST": str(dest)}
    assert k8s.run("stop", name, env=env).rc == 0
    assert (dest / "transcript.jsonl").read_text() == "m"
    assert (dest / "sub" / "more.jsonl").read_text() == "n"
    assert not (dest / "leak").exists()
    assert k8s.run("is-running", name).out.strip() == "false"
