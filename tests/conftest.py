"""Shared fixtures: an isolated tmux server per test, reaped even on failure."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SESSION_TAG, TEST_TIMING, Provider, executable, reap_tmux, stop_helper

pytest_plugins = ["protocol.conformance.fakekube.fixtures", "schedule"]

# Every executable the tests start runs the default transport (auto: the helper once one
# runs, else direct, else kubectl), as gc runs them. The helpers they start live in this
# process's own runtime dir (short, under /tmp: a unix socket's path is at most 108 bytes),
# never the user's, and are stopped when the session ends. A test that drives kubectl
# itself (its fakes, its argv, its audit lines) pins GC_K8S_TRANSPORT=kubectl; each
# transport forced has its own tests (tests/kube/test_transport_*.py, every conformance
# suite in tests/k8s/test_conformance_transports.py, tests/realkube).
# Under xdist the workers inherit the controller's dir (their own stays unused): one helper
# for the run, stopped by the controller after the last worker is done.
os.environ.setdefault("GC_K8S_TRANSPORT", "auto")
RUNTIME = tempfile.mkdtemp(prefix="gck-", dir="/tmp")
os.environ.setdefault("GC_K8S_RUNTIME_DIR", RUNTIME + "/run")
for _key, _value in TEST_TIMING.items():
    os.environ.setdefault(_key, _value)


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("GC_TEST_INSTALLED"):
        import protocol

        # Installed mode must exercise the wheel, not the checkout.
        assert "site-packages" in (protocol.__file__ or ""), protocol.__file__


#: What each xdist worker left behind, as the controller hears it (pytest_testnodedown).
WORKER_LEAKS: list[tuple[str, dict[str, list[str]]]] = []


def left_behind(session: pytest.Session) -> dict[str, list[str]]:
    """What this process's tests started and did not clean up (empty when clean)."""
    leaks: dict[str, list[str]] = {}
    # Only this process's sockets: another suite (or worker) may run beside this one.
    sockets = [str(p) for p in Path("/tmp").glob(f"gct-{SESSION_TAG}-*")]
    if sockets:
        leaks["tmux test sockets"] = sockets
    if session.config.pluginmanager.has_plugin("protocol.conformance.fakekube.fixtures"):
        from protocol.conformance.fakekube.fixtures import ENV_DIRS
        from protocol.conformance.fakekube.leaks import leftovers
        from protocol.conformance.fakekube.server import FakeKube

        for server in FakeKube.instances:
            server.stop()  # idempotent: the server fixtures normally did it already
        leaks.update(leftovers())
        env_dirs = [d for d in ENV_DIRS if os.path.exists(d)]
        if env_dirs:
            leaks["fake API fixture dirs"] = env_dirs
    return leaks


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture is torn down: nothing the tests started may remain.

    Runs once per process, after its last test, so a suite that shares the fake API
    server with others is checked after the last user is done, whatever the order. Under
    xdist each worker checks its own and hands the result to the controller, which reports.
    """
    if os.environ.get("GC_K8S_RUNTIME_DIR") == RUNTIME + "/run":
        stop_helper(RUNTIME + "/run")  # the helper the suite's executables started, if any
    shutil.rmtree(RUNTIME, ignore_errors=True)
    leaks = left_behind(session)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: sent to the controller when it finishes
        workeroutput["gc_left_behind"] = leaks
        return
    found = [("", leaks)] if leaks else []
    found += WORKER_LEAKS
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for worker, what in found:
                reporter.write_line(f"LEFT BEHIND after the test session{f' ({worker})' if worker else ''}: "
                                    f"{what}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: a worker finished; keep what it left behind for the report."""
    leaks = getattr(node, "workeroutput", {}).get("gc_left_behind")
    if leaks:
        WORKER_LEAKS.append((str(node.gateway.id), leaks))


@pytest.fixture
def tmux_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # Socket paths are limited to ~107 bytes: keep them short, under /tmp.
    directory = Path("/tmp") / f"gct-{SESSION_TAG}-{uuid.uuid4().hex[:8]}"
    directory.mkdir(mode=0o700)
    socket = directory / "s"
    yield socket
    reap_tmux(socket)
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir(mode=0o700)  # a directory someone names must be private already (privdir)
    return path


@pytest.fixture
def tmux_provider(tmux_socket: Path, state_dir: Path) -> Provider:
    """`gc-session-tmux` on a private socket, as Gas City would run it."""
    env = {**os.environ, "GC_TMUX_SOCKET": str(tmux_socket), "GC_EXEC_STATE_DIR": str(state_dir)}
    env.pop("TMUX", None)
    return Provider(executable("gc-session-tmux"), env)
