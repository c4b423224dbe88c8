"""`docker` backend: each container of a pod is a Docker container.

Always `--network none` and `--pull=never`: a missing image leaves the pod
Pending (ErrImagePull / ImagePullBackOff) instead of reaching a registry.
Volumes are host directories of the pod bind-mounted into every container
of the pod (init containers included), so they share files as in a pod.
Talks to the daemon through the `docker` CLI (honours DOCKER_HOST).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import uuid
from typing import Any

from protocol.conformance.fakekube.backends.base import ContainerRun

LABEL = "fakekube.server"


def _docker(*args: str, timeout: float | None = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def daemon_problem() -> str | None:
    """Why the docker backend cannot run here, or None when it can."""
    from shutil import which

    if not which("docker"):
        return "no docker CLI on PATH"
    try:
        r = _docker("info", "--format", "{{.ServerVersion}}", timeout=15)
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if r.returncode != 0 or not r.stdout.strip():
        return "no Docker daemon answers: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return None


class DockerContainer:
    def __init__(self, container_id: str) -> None:
        self.id = container_id
        self.container_id = "docker://" + container_id

    def wait(self) -> int:
        r = _docker("wait", self.id, timeout=None)
        try:
            return int(r.stdout.strip())
        except ValueError:
            return 137  # removed under us (forced deletion)

    def kill(self, signum: int) -> None:
        _docker("kill", "-s", signal.Signals(signum).name, self.id)


class DockerSandbox:
    def __init__(self, backend: DockerBackend, pod: dict[str, Any]) -> None:
        self._backend = backend
        self._uid = pod["metadata"]["uid"]
        self._hostname = pod["metadata"]["name"][:63]
        self._lock = threading.Lock()
        self._containers: dict[str, DockerContainer] = {}
        self._all: list[str] = []

    def start(self, run: ContainerRun) -> DockerContainer:
        argv = ["run", "-d", "--pull=never", "--network", "none", "--hostname", self._hostname,
                "--label", f"{LABEL}={self._backend.server_id}",
                "--label", f"fakekube.pod={self._uid}",
                "--name", f"fk-{self._uid[:8]}-{run.name}-{uuid.uuid4().hex[:6]}"]
        for k, v in run.env.items():
            argv += ["-e", f"{k}={v}"]
        if run.working_dir:
            argv += ["-w", run.working_dir]
        for src, dst, ro in run.mounts:
            argv += ["-v", f"{src}:{dst}{':ro' if ro else ''}"]
        rest = list(run.args)
        if run.command:
            argv += ["--entrypoint", run.command[0]]
            rest = [*run.command[1:], *run.args]
        r = _docker(*argv, run.image, *rest)
        if r.returncode != 0:
            raise RuntimeError(f"docker run failed: {r.stderr.strip()}")
        c = DockerContainer(r.stdout.strip())
        with self._lock:
            self._containers[run.name] = c
            self._all.append(c.id)
        return c

    def exec_argv(self, run: ContainerRun, command: list[str], *, tty: bool,
                  stdin: bool) -> list[str]:
        with self._lock:
            c = self._containers[run.name]
        flags = (["-i"] if stdin or tty else []) + (["-t"] if tty else [])
        return ["docker", "exec", *flags, c.id, *command]

    def signal_all(self, signum: int) -> None:
        with self._lock:
            ids = list(self._all)
        for cid in ids:
            _docker("kill", "-s", signal.Signals(signum).name, cid)

    def destroy(self) -> None:
        with self._lock:
            ids, self._all = list(self._all), []
        if ids:
            _docker("rm", "-f", "-v", *ids)

    def read_log(self, container: str) -> bytes:
        with self._lock:
            c = self._containers.get(container)
        if c is None:
            return b""
        r = subprocess.run(["docker", "logs", c.id], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60, check=False)
        return r.stdout


class DockerBackend:
    name = "docker"

    def __init__(self) -> None:
        self.server_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._present: set[str] = set()

    def create_sandbox(self, pod: dict[str, Any], pod_dir: str,
                       runs: list[ContainerRun]) -> DockerSandbox:
        return DockerSandbox(self, pod)

    def image_present(self, image: str) -> bool:
        if image in self._present:
            return True
        if _docker("image", "inspect", image).returncode == 0:
            self._present.add(image)
            return True
        return False

    def shutdown(self) -> None:
        r = _docker("ps", "-aq", "--filter", f"label={LABEL}={self.server_id}")
        ids = r.stdout.split()
        if ids:
            _docker("rm", "-f", "-v", *ids)
