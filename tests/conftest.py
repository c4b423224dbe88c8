"""Shared fixtures: an isolated tmux server per test, reaped even on failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SESSION_TAG, Provider, executable, reap_tmux

pytest_plugins = ["providers.kube.fakekube.fixtures"]

# The bulk of the suite drives the kubectl door, so its kubectl fakes and fault injection
# mean what they say and no test starts a helper in the user's runtime dir. The default
# (auto) and the fast doors have their own tests: tests/kube/test_transport_*.py, every
# conformance suite with each transport (tests/k8s/test_conformance_transports.py) and
# against the real kube-apiserver (tests/realkube/test_realkube_transports.py).
os.environ.setdefault("GC_K8S_TRANSPORT", "kubectl")


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("GC_TEST_INSTALLED"):
        import protocol

        # Installed mode must exercise the wheel, not the checkout.
        assert "site-packages" in (protocol.__file__ or ""), protocol.__file__


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture is torn down: nothing the tests started may remain.

    Runs once for the whole session, so a suite that shares the fake API server
    with others is checked after the last user is done, whatever the order.
    """
    leaks: dict[str, list[str]] = {}
    # Only this session's sockets: another suite may run beside this one (another checkout).
    sockets = [str(p) for p in Path("/tmp").glob(f"gct-{SESSION_TAG}-*")]
    if sockets:
        leaks["tmux test sockets"] = sockets
    if session.config.pluginmanager.has_plugin("providers.kube.fakekube.fixtures"):
        from providers.kube.fakekube.fixtures import ENV_DIRS
        from providers.kube.fakekube.leaks import leftovers
        from providers.kube.fakekube.server import FakeKube

        for server in FakeKube.instances:
            server.stop()  # idempotent: the server fixtures normally did it already
        leaks.update(leftovers())
        env_dirs = [d for d in ENV_DIRS if os.path.exists(d)]
        if env_dirs:
            leaks["fake API fixture dirs"] = env_dirs
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"LEFT BEHIND after the test session: {leaks}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
    path.mkdir()
    return path


@pytest.fixture
def tmux_provider(tmux_socket: Path, state_dir: Path) -> Provider:
    """`gc-session-tmux` on a private socket, as Gas City would run it."""
    env = {**os.environ, "GC_TMUX_SOCKET": str(tmux_socket), "GC_EXEC_STATE_DIR": str(state_dir)}
    env.pop("TMUX", None)
    return Provider(executable("gc-session-tmux"), env)
