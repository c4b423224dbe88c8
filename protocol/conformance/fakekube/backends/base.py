"""What the fake kubelet needs from a pod backend (local processes or Docker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class ImageMissing(Exception):
    """The image is not available locally (the pod stays Pending: ErrImagePull)."""


@dataclass(frozen=True)
class ContainerRun:
    """Everything a backend needs to start one container of a pod."""

    name: str
    image: str
    command: list[str]  # overrides the image ENTRYPOINT when non-empty
    args: list[str]  # overrides the image CMD when non-empty
    env: dict[str, str]
    working_dir: str
    mounts: list[tuple[str, str, bool]]  # (host dir, mountPath, readOnly)


class RunningContainer(Protocol):
    container_id: str

    def wait(self) -> int:
        """Block until the container's main process exits; return its exit code."""

    def kill(self, signum: int) -> None:
        """Signal the container's main process."""


class Sandbox(Protocol):
    """One pod: shared volumes, hostname and (where possible) PID/mount namespace."""

    def start(self, run: ContainerRun) -> RunningContainer: ...

    def exec_argv(self, run: ContainerRun, command: list[str], *, tty: bool, stdin: bool) -> list[str]:
        """Host argv that runs `command` inside the running container."""

    def signal_all(self, signum: int) -> None:
        """Signal every process of the pod (graceful deletion, eviction)."""

    def destroy(self) -> None:
        """Kill everything and release runtime resources (not the pod directory)."""

    def read_log(self, container: str) -> bytes: ...


class Backend(Protocol):
    name: str

    def create_sandbox(
        self, pod: dict[str, Any], pod_dir: str, runs: list[ContainerRun]
    ) -> Sandbox:
        """Raises ImageMissing when an image of the pod is not available."""

    def image_present(self, image: str) -> bool: ...

    def shutdown(self) -> None:
        """Remove everything the backend created (containers, host mountpoints)."""
