"""`local` backend: pods are local processes, ideally in their own namespaces.

With root and working `unshare`/`nsenter`, each pod gets a mount + PID + UTS
namespace whose PID 1 is `pod_init.py`: the pod's /tmp and HOME (/root) are
its own directories, emptyDir volumes are bind-mounted at their mountPaths,
and `ps`/`pgrep` see only the pod. Containers and execs enter it with
`nsenter`. Any image name is accepted (the host's binaries are the "image").

Without namespaces (not root, or unshare refused) pods are plain processes
with their own TMUX_TMPDIR/TMPDIR/HOME; absolute paths such as `/workspace`
in workingDir and mountPaths are mapped under the pod directory, but paths
inside commands (e.g. `kubectl cp` targets) are not: they hit the host.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from typing import Any

from protocol.conformance.fakekube.backends.base import ContainerRun

_POD_INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pod_init.py")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
POD_MARKER = "FAKEKUBE_POD"


def namespaces_available() -> bool:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("nsenter")):
        return False
    try:
        r = subprocess.run(
            ["unshare", "--mount", "--pid", "--uts", "--fork", "--mount-proc",
             "--propagation", "private", "true"],
            capture_output=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


class LocalContainer:
    def __init__(self, proc: subprocess.Popen[bytes], container_id: str, nsenter: bool) -> None:
        self._proc = proc
        self.container_id = container_id
        self._nsenter = nsenter

    def wait(self) -> int:
        code = self._proc.wait()
        return 128 - code if code < 0 else code

    def kill(self, signum: int) -> None:
        # Under nsenter the container's process is nsenter's child.
        targets = _children(self._proc.pid) if self._nsenter else []
        for pid in targets or [self._proc.pid]:
            _signal(pid, signum)


class LocalSandbox:
    def __init__(self, backend: LocalBackend, pod: dict[str, Any], pod_dir: str,
                 runs: list[ContainerRun]) -> None:
        self._backend = backend
        self._pod_dir = pod_dir
        self._uid = pod["metadata"]["uid"]
        self._hostname = pod["metadata"]["name"][:63]
        self._tmp = os.path.join(pod_dir, "tmp")
        self._home = os.path.join(pod_dir, "home")
        self._logs = os.path.join(pod_dir, "logs")
        for d in (self._tmp, self._home, self._logs):
            os.makedirs(d, exist_ok=True)
        os.chmod(self._tmp, 0o1777)
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[bytes]] = []
        self._init: subprocess.Popen[bytes] | None = None
        self._init_pid = 0
        # mountPath -> host dir, longest first (for path mapping without namespaces)
        mounts: dict[str, tuple[str, bool]] = {"/tmp": (self._tmp, False), "/root": (self._home, False)}
        for run in runs:
            for src, dst, ro in run.mounts:
                mounts.setdefault(os.path.normpath(dst), (src, ro))
        self._mounts = mounts
        if backend.use_namespaces:
            self._start_namespaces(runs)

    # -- path mapping ------------------------------------------------------
    def _source_of(self, path: str) -> tuple[str, str] | None:
        """(mountPath, host dir) of the mount containing `path`, deepest first."""
        path = os.path.normpath(path)
        for dst in sorted(self._mounts, key=len, reverse=True):
            if path == dst or path.startswith(dst.rstrip("/") + "/"):
                return dst, self._mounts[dst][0]
        return None

    def _host_path(self, path: str) -> str:
        """Where `path` (as seen in the pod) lives on the host, without namespaces."""
        hit = self._source_of(path)
        if hit:
            dst, src = hit
            return os.path.join(src, os.path.relpath(os.path.normpath(path), dst))
        return os.path.join(self._pod_dir, "rootfs", path.lstrip("/"))

    def _start_namespaces(self, runs: list[ContainerRun]) -> None:
        root = os.path.join(self._pod_dir, "root")
        os.makedirs(root, exist_ok=True)
        args = [self._hostname, root]
        binds = sorted(self._mounts.items(), key=lambda kv: kv[0].count("/"))
        for dst, (src, ro) in binds:
            args += self._ensure_dir(dst, exclude=dst)
            args += ["bind", src, dst, "1" if ro else "0"]
        for run in runs:
            if run.working_dir:
                args += self._ensure_dir(run.working_dir, exclude=None)
        self._init = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--uts", "--fork", "--mount-proc",
             "--propagation", "private", sys.executable, "-S", "-I", _POD_INIT, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self._init.stdout is not None
        line = self._init.stdout.readline()
        if line.strip() != b"ready":
            err = self._init.stderr.read() if self._init.stderr else b""
            self._init.kill()
            self._init.wait()
            raise RuntimeError(f"pod sandbox failed: {err.decode(errors='replace')}")
        kids = _children(self._init.pid)
        self._init_pid = kids[0] if kids else 0

    def _ensure_dir(self, path: str, exclude: str | None) -> list[str]:
        """Make `path` exist where the pod will see it: inside an enclosing mount's
        dir (in the server's temp dir), or else in the pod's own root (a `mkdir`
        directive for pod_init): never on the host."""
        hit = None
        for dst in sorted(self._mounts, key=len, reverse=True):
            if dst == exclude:
                continue
            if path == dst or path.startswith(dst.rstrip("/") + "/"):
                hit = dst
                break
        if hit is not None:
            src = self._mounts[hit][0]
            os.makedirs(os.path.join(src, os.path.relpath(path, hit)), exist_ok=True)
            return []
        return ["mkdir", path]

    # -- containers --------------------------------------------------------
    def _env(self, run: ContainerRun, *, tty: bool) -> dict[str, str]:
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": self._hostname, "HOME": "/root",
               "LANG": "C.UTF-8", POD_MARKER: self._uid}
        if not self._backend.use_namespaces:
            env.update(HOME=self._home, TMUX_TMPDIR=self._tmp, TMPDIR=self._tmp)
        if tty:
            env["TERM"] = "xterm"
        env.update(run.env)
        return env

    def _argv(self, run: ContainerRun, command: list[str], *, tty: bool) -> list[str]:
        env = self._env(run, tty=tty)
        wd = run.working_dir or "/"
        if not self._backend.use_namespaces:
            wd = self._host_path(wd)
            os.makedirs(wd, exist_ok=True)
        inner = ["env", "-i", "-C", wd, *(f"{k}={v}" for k, v in env.items()), *command]
        if not self._backend.use_namespaces:
            return inner
        # --root: the pod's own root (pod_init chroots into it), as a container's rootfs.
        return ["nsenter", "--target", str(self._init_pid), "--mount", "--pid", "--uts", "--root",
                *inner]

    def start(self, run: ContainerRun) -> LocalContainer:
        # The host is the "image": its default command keeps the container alive.
        command = [*run.command, *run.args] or ["sleep", "infinity"]
        log = open(os.path.join(self._logs, run.name + ".log"), "ab")  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                self._argv(run, command, tty=False), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            log.close()
        with self._lock:
            self._procs.append(proc)
        return LocalContainer(proc, "fakekube://" + secrets.token_hex(32),
                              self._backend.use_namespaces)

    def exec_argv(self, run: ContainerRun, command: list[str], *, tty: bool,
                  stdin: bool) -> list[str]:
        return self._argv(run, command, tty=tty)

    def read_log(self, container: str) -> bytes:
        try:
            with open(os.path.join(self._logs, container + ".log"), "rb") as f:
                return f.read()
        except OSError:
            return b""

    # -- teardown ----------------------------------------------------------
    def _marked_pids(self) -> list[int]:
        """Processes carrying this pod's marker (the no-namespace fallback)."""
        marker = f"{POD_MARKER}={self._uid}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
        return found

    def signal_all(self, signum: int) -> None:
        if self._init is not None:
            if signum == signal.SIGKILL:
                _signal(self._init_pid or self._init.pid, signal.SIGKILL)
            elif self._init_pid:
                _signal(self._init_pid, signum)  # pod_init fans it out
            return
        for pid in self._marked_pids():
            _signal(pid, signum)

    def destroy(self) -> None:
        self.signal_all(signal.SIGKILL)
        if self._init is not None:
            # PID 1 dying takes the whole PID namespace (and its mounts) with it.
            try:
                self._init.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._init.kill()
                self._init.wait()
            for stream in (self._init.stdout, self._init.stderr):
                if stream:
                    stream.close()
        with self._lock:
            procs, self._procs = self._procs, []
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class LocalBackend:
    name = "local"

    def __init__(self, *, use_namespaces: bool | None = None) -> None:
        self.use_namespaces = namespaces_available() if use_namespaces is None else use_namespaces

    def create_sandbox(self, pod: dict[str, Any], pod_dir: str,
                       runs: list[ContainerRun]) -> LocalSandbox:
        return LocalSandbox(self, pod, pod_dir, runs)

    def image_present(self, image: str) -> bool:
        return True

    def shutdown(self) -> None:
        """Nothing to undo: pods made their mountpoints in their own roots, not on the host."""
