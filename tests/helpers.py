"""Run provider executables the way Gas City does: argv, stdin bytes, exit codes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent

#: Names this test process's tmux sockets, so its leak check never counts another run's
#: (nor another xdist worker's: each worker is its own process).
SESSION_TAG = f"{os.getpid():x}"

#: Time is injectable: the suite runs with these settings (tests/conftest.py puts them in the
#: environment of the whole session unless already set), so a fault test proves a retry
#: without waiting the production pauses. One test per policy keeps the real timing
#: (it passes the setting empty: the default).
TEST_TIMING = {
    "GC_K8S_RETRY_BACKOFF": "0.01,0.03,0.06",  # production: 0.25,0.75,1.5 (providers/kube/retry.py)
}


class Completed(NamedTuple):
    rc: int
    out: str
    err: str

    @property
    def value(self) -> str:
        """stdout as gc reads it: trailing newlines trimmed."""
        return self.out.rstrip("\n")


def program_of(launcher: str) -> str:
    """The program an installed launcher runs: ``<name>.py`` beside it (the source tree) or
    in our package's ``providers/bin`` (the wheel and editable installs: never on PATH)."""
    beside = f"{launcher}.py"
    if os.path.exists(beside):
        return beside
    import providers

    return str(Path(providers.__file__).parent / "bin" / f"{os.path.basename(launcher)}.py")


def executable(name: str) -> list[str]:
    """The installed script (editable or wheel) in this interpreter's scripts dir."""
    scripts = sysconfig.get_path("scripts")
    found = shutil.which(name, path=scripts) or shutil.which(name)
    if found:
        return [found]
    if os.environ.get("GC_TEST_INSTALLED"):
        raise RuntimeError(f"{name} is not installed in {scripts}")
    program = REPO / "providers" / "bin" / name
    if program.with_name(f"{name}.py").exists():  # a launcher: its program, started as any script
        program = program.with_name(f"{name}.py")
    return [sys.executable, str(program)]


def default_signals() -> None:
    """``preexec_fn`` for a child a test signals: SIGINT and SIGQUIT at their defaults, as
    an interactive shell starts it. A suite started from a non-interactive background shell
    (``make test &``, nohup, CI) inherits both ignored, an ignored signal stays ignored
    across exec, and the child would never see the test's SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def imported(argv: list[str], env: Mapping[str, str], stdin: bytes = b"",
             timeout: float = 120) -> tuple[subprocess.CompletedProcess[bytes], set[str]]:
    """Run an executable as gc does, with Python's import profile on (through the environment:
    it reaches the interpreter past a launcher too): the result and every module imported."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, check=False,
                          env={**env, "PYTHONPROFILEIMPORTTIME": "1"})
    names = {line.rsplit("|", 1)[1].strip()
             for line in proc.stderr.decode(errors="replace").splitlines()
             if line.startswith("import time:") and "|" in line}
    return proc, names


class Provider:
    """A provider executable plus the environment every call gets."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = argv
        self.env = env

    def run(self, op: str, *args: str, stdin: bytes | str = b"", timeout: float = 60,
            env: dict[str, str] | None = None) -> Completed:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run(
            [*self.argv, op, *args], input=data, capture_output=True, timeout=timeout,
            env={**self.env, **(env or {})},
        )
        return Completed(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                         proc.stderr.decode("utf-8", "replace"))

    def spawn(self, op: str, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None,
              new_session: bool = False) -> subprocess.Popen[bytes]:
        """Start a call in the background, its stdin written and closed, as gc runs a
        long op; ``new_session`` gives it a process group to cancel (gc's SIGTERM). Tests
        signal such calls, so they start with default signal dispositions."""
        proc = subprocess.Popen([*self.argv, op, *args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**self.env, **(env or {})}, start_new_session=new_session,
                                preexec_fn=default_signals)
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        return proc

    def ok(self, op: str, *args: str, stdin: bytes | str = b"", timeout: float = 60,
           env: dict[str, str] | None = None) -> str:
        """Run and require exit 0; return stdout as gc reads it."""
        res = self.run(op, *args, stdin=stdin, timeout=timeout, env=env)
        assert res.rc == 0, f"{op} {args} exited {res.rc}: {res.err}"
        return res.value


#: Start a session from a config dict (merged over defaults) and return its name.
Start = Callable[..., str]


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``check`` until it holds or ``timeout`` passes; never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def stop_helper(run_dir: str) -> None:
    """Stop the helper of ``run_dir`` (politely, then by its pid) and wait until it is gone."""
    import signal
    import time

    from providers.kube.transport.helper_client import control

    env = {"GC_K8S_RUNTIME_DIR": run_dir}
    pid = 0
    try:
        state = control("status", env)
        pid = int(state["pid"]) if state else 0
        control("stop", env)
    except Exception:
        pass
    deadline = time.monotonic() + 30
    while pid and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextlib.contextmanager
def stand_in_helper(run_dir: Path, reply: Callable[[socket.socket], None]) -> Iterator[None]:
    """A listener on the helper's socket in ``run_dir`` (created 0700; the socket ours and
    0600, as the real helper's) that hands each connection to ``reply``: a helper that
    misbehaves in a way of the test's choosing."""
    from providers.kube.transport import wire

    run_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(run_dir / wire.socket_name()))
    finally:
        os.umask(old)
    listener.listen(16)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    reply(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(10)


@contextlib.contextmanager
def stand_in_door(run_dir: Path, got: list[bytes]) -> Iterator[None]:
    """The helper's door in ``run_dir`` (a 0600 FIFO, as the real helper's) read by a
    helper that takes each request (its bytes appended to ``got``), says it picked it up
    and hangs up: one that died mid-answer."""
    from providers.kube.transport import wire

    run_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    door = run_dir / wire.door_name()
    os.mkfifo(door, 0o600)
    fd = os.open(door, os.O_RDWR)
    stop = threading.Event()

    def serve() -> None:
        pending = b""
        while not stop.is_set():
            pending += os.read(fd, 4096)
            *tokens, pending = pending.split(b"\n")
            for token in tokens:
                with contextlib.suppress(OSError):
                    got.append((run_dir / f"q-{token.decode()}").read_bytes())
                    reply = os.open(run_dir / f"r-{token.decode()}", os.O_WRONLY | os.O_NONBLOCK)
                    os.write(reply, b"S")
                    os.close(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        os.write(fd, b"\n")  # wakes the reader, which then sees stop
        thread.join(10)
        os.close(fd)
        door.unlink()


def reap_tmux(socket: Path) -> None:
    """Kill a test's tmux server and its socket; never raises (it runs in finalizers)."""
    try:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, timeout=10)
    except Exception:
        pass
    try:
        socket.unlink()
    except OSError:
        pass


def once_per_run(shared_root: Path, name: str, make: Callable[[], bytes]) -> bytes:
    """``make()``'s bytes, made once per pytest run however many xdist workers ask: the first
    makes and keeps them under ``shared_root`` (the run's base temp dir, which every worker
    shares), the others wait on a lock and read them. Without xdist it is just ``make()``."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return make()
    kept = shared_root / f"{name}-{run}.out"
    with open(shared_root / f"{name}-{run}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if kept.exists():
            return kept.read_bytes()
        value = make()
        kept.write_bytes(value)
        return value


_BOX_TOOLS: list[Path] = []


def box_tools() -> Path:
    """The stand-in ``gc`` and ``bd`` of tests/doubles/box-tools, copied where any user can run
    them: a pod's user (the local backend runs pods as other uids, the real API server bed
    as the Role's) may not reach the checkout, as in a fresh clone under a 0700 temp dir.
    One copy per test process, removed when it exits."""
    if not _BOX_TOOLS:
        import atexit
        import tempfile

        # Not /tmp: the offline server's local backend gives each pod a /tmp of its own.
        where = Path(tempfile.mkdtemp(prefix="gc-box-tools-", dir="/var/tmp"))
        where.chmod(0o755)
        for tool in (REPO / "tests" / "doubles" / "box-tools").iterdir():
            shutil.copy(tool, where / tool.name)
            (where / tool.name).chmod(0o755)
        atexit.register(shutil.rmtree, where, True)
        _BOX_TOOLS.append(where)
    return _BOX_TOOLS[0]
