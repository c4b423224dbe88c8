"""The executables run under every installer layout: the wheel installed by real pip and
real uv into venvs whose paths hold a space or run over 127 bytes (pip then writes a
shebang no kernel reads; uv a `#!/bin/sh` trampoline), linked from elsewhere, and moved
after installing. A known op never exits 2 or 127 because of how it was installed.

The wheel is built once per test session; each venv gets the test environment's own
site-packages through a .pth file (the wheel's dependencies, offline)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO

EXES = ["gc-session-tmux", "gc-session-k8s", "gc-beads-k8s"]
#: A known op per executable that needs nothing running, and what it prints.
KNOWN = {"gc-session-tmux": ["protocol"], "gc-session-k8s": ["protocol"],
         "gc-beads-k8s": ["--version"]}
#: A known op missing its argument: a usage error (exit 1), which only the program gives.
USAGE = {"gc-session-tmux": "get-meta", "gc-session-k8s": "get-meta", "gc-beads-k8s": "get"}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling", reason="the build backend (test extra) builds offline")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index",
                    "--no-build-isolation", "-w", str(out), str(REPO)], check=True,
                   timeout=300, capture_output=True)
    return next(out.glob("*.whl"))


def uv_binary() -> str | None:
    return shutil.which("uv", path=sysconfig.get_path("scripts")) or shutil.which("uv")


@pytest.fixture
def base() -> Iterator[Path]:
    where = Path("/tmp") / f"gc layout {uuid.uuid4().hex[:8]}"  # a space in every path
    where.mkdir()
    yield where
    shutil.rmtree(where, ignore_errors=True)


def install(installer: str, venv: Path, wheel: Path | None) -> Path:
    """A venv at ``venv`` holding the wheel (if given) as ``installer`` lays it out; its bin dir."""
    if installer == "pip":
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                       timeout=120)
        if wheel is None:
            return venv / "bin"
        subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                        "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                       timeout=300, capture_output=True)
    else:
        uv = uv_binary()
        if uv is None:
            pytest.skip("uv is not installed (pip install uv)")
        interpreter = os.path.realpath(sys.executable)
        subprocess.run([uv, "venv", "-q", "--python", interpreter, str(venv)], check=True,
                       timeout=120, capture_output=True)
        if wheel is None:
            return venv / "bin"
        subprocess.run([uv, "pip", "install", "-q", "--offline", "--no-deps", "--python",
                        str(venv / "bin" / "python"), str(wheel)], check=True, timeout=300,
                       capture_output=True)
    lib = next((venv / "lib").glob("python3*/site-packages"))
    (lib / "test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv / "bin"


def runs(exe: Path) -> None:
    """A known op answers, an unknown one exits 2, a usage error 1: the program ran."""
    name = exe.name.removeprefix("my-")
    env = {**os.environ, "GC_K8S_TRANSPORT": "kubectl"}
    known = subprocess.run([str(exe), *KNOWN[name]], capture_output=True, text=True,
                           timeout=120, env=env, check=False)
    assert known.returncode == 0 and known.stdout, (exe, known.returncode, known.stderr)
    unknown = subprocess.run([str(exe), "no-such-op"], capture_output=True, text=True,
                             timeout=120, env=env, check=False)
    assert unknown.returncode == 2 and "unknown operation" in unknown.stderr, (exe, unknown)
    usage = subprocess.run([str(exe), USAGE[name]], capture_output=True, text=True,
                           timeout=120, env=env, check=False)
    assert usage.returncode == 1 and usage.stderr.count("\n") == 1, (exe, usage)


LAYOUTS = [("pip", "space"), ("pip", "long"), ("uv", "space"), ("uv", "long")]


@pytest.mark.parametrize(("installer", "path"), LAYOUTS, ids=[f"{i}-{p}" for i, p in LAYOUTS])
def test_every_executable_runs_when_installed_at_a_path_with_a_space_or_over_127_bytes(
        wheel: Path, base: Path, installer: str, path: str) -> None:
    venv = base / "venv" if path == "space" else base / ("v" * 130) / "venv"
    bin_dir = install(installer, venv, wheel)
    assert len(str(bin_dir)) > 127 or " " in str(bin_dir), bin_dir
    for name in EXES:
        runs(bin_dir / name)


def test_a_linked_executable_and_a_moved_venv_still_run(wheel: Path, base: Path) -> None:
    bin_dir = install("uv" if uv_binary() else "pip", base / "venv", wheel)
    links = base / "links dir"
    links.mkdir()
    for name in EXES:
        (links / f"my-{name}").symlink_to(bin_dir / name)  # another name, another dir
        runs(links / f"my-{name}")
    moved = base / "moved venv"
    (base / "venv").rename(moved)  # every interpreter path the installer wrote is gone
    for name in EXES:
        runs(moved / "bin" / name)


#: What the wheel puts on PATH: the documented commands, nothing else.
DOCUMENTED = {"gc-session-tmux", "gc-session-k8s", "gc-beads-k8s", "gc-provider-conformance", "gc-fakekube"}


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_only_the_documented_commands_land_on_path(wheel: Path, base: Path, installer: str) -> None:
    empty = install(installer, base / "empty", None)
    bin_dir = install(installer, base / "venv", wheel)
    added = {entry.name for entry in bin_dir.iterdir()} - {entry.name for entry in empty.iterdir()}
    assert added <= DOCUMENTED and set(EXES) <= added, sorted(added)


def test_pip_installs_also_run(wheel: Path, base: Path) -> None:
    bin_dir = install("pip", base / "venv", wheel)
    (bin_dir.parent / "moved").mkdir()
    for name in EXES:
        runs(bin_dir / name)


def test_a_project_with_its_own_protocol_and_providers_packages_runs_its_own_tests(
        wheel: Path, base: Path) -> None:
    """The wheel's pytest plugin imports nothing such a project shadows; the kit still loads ours."""
    bin_dir = install("pip", base / "venv", wheel)
    project = base / "project"
    for package in ("protocol", "providers"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text(f"OWNER = 'the project: {package}'\n")
    (project / "tests").mkdir()
    (project / "tests" / "test_own.py").write_text(
        "import protocol, providers\n\n\ndef test_its_own_packages():\n"
        "    assert protocol.OWNER == 'the project: protocol'\n"
        "    assert providers.OWNER == 'the project: providers'\n")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    own = subprocess.run([str(bin_dir / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q"],
                         cwd=project, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert own.returncode == 0 and "1 passed" in own.stdout, own.stdout + own.stderr
    helped = subprocess.run([str(bin_dir / "python"), "-m", "pytest", "-p", "no:cacheprovider", "--help"],
                            cwd=project, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert helped.returncode == 0 and "--gc-provider=PATH" in helped.stdout, helped.stderr
    # With --gc-provider, the kit runs from the wheel's own `protocol`, not the project's.
    minimal = REPO / "examples" / "minimal-sh" / "gc-session-minimal"
    kit = subprocess.run([str(bin_dir / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          f"--gc-provider={minimal}", "--gc-provider-only=GC-STRICT-USAGE-004", str(minimal)],
                         cwd=project, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert kit.returncode == 0 and "1 passed" in kit.stdout, kit.stdout + kit.stderr


def test_the_offline_server_has_a_console_command(wheel: Path, base: Path) -> None:
    """`gc-fakekube` from the installed wheel serves and writes a kubeconfig (no `python -m`)."""
    bin_dir = install("uv" if uv_binary() else "pip", base / "venv", wheel)
    kubeconfig = base / "kubeconfig"
    server = subprocess.Popen([str(bin_dir / "gc-fakekube"), "--no-namespaces", "--kubeconfig", str(kubeconfig)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), (url, server.stderr and server.stderr.read())
        assert server.stdout.readline().strip() == str(kubeconfig) and kubeconfig.is_file()
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert server.returncode == 0


def installed_size(name: str, seen: set[str]) -> int:
    """Bytes a plain install of distribution ``name`` takes: its files and its required
    distributions' (no extras), as installed in this environment."""
    from importlib import metadata

    from packaging.requirements import Requirement

    key = name.lower().replace("_", "-")
    if key in seen:
        return 0
    seen.add(key)
    dist = metadata.distribution(name)
    size = sum(path.stat().st_size for path in (Path(str(dist.locate_file(f))) for f in dist.files or [])
               if path.is_file())
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            size += installed_size(requirement.name, seen)
    return size


def test_a_plain_install_for_tmux_use_is_small_and_has_no_kubernetes_client(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [line.split(":", 1)[1].strip() for line in archive.read(meta).decode().splitlines()
                    if line.startswith("Requires-Dist:")]
        ours = sum(info.file_size for info in archive.infolist())
    plain = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith("kubernetes") for r in plain), plain
    assert any(r.startswith("kubernetes") and "extra == 'k8s'" in r.replace('"', "'") for r in requires)
    seen: set[str] = set()
    from packaging.requirements import Requirement

    deps = sum(installed_size(Requirement(r).name, seen) for r in plain)
    assert ours + deps <= 40 * 1024 * 1024, (ours, deps, sorted(seen))


def test_a_plain_install_runs_every_command_and_names_the_k8s_extra(wheel: Path, base: Path) -> None:
    """The wheel with only its declared dependencies (no extras, no test tools): the plain
    install smoke (.ci/smoke-plain-install.py) passes, the Kubernetes client's checks
    included, which name `pip install 'gc-session-providers[k8s]'`."""
    from importlib import metadata

    from packaging.requirements import Requirement

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, timeout=300, capture_output=True)
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        plain = [line.split(":", 1)[1].strip() for line in archive.read(meta).decode().splitlines()
                 if line.startswith("Requires-Dist:") and "extra ==" not in line]
    seen: set[str] = set()
    for requirement in plain:
        installed_size(Requirement(requirement).name, seen)
    deps = base / "plain-deps"  # only the declared dependencies, linked from this environment
    deps.mkdir()
    for name in seen:
        dist = metadata.distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or []} - {"..", "bin"}:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (deps / top).exists():
                (deps / top).symlink_to(source)
    lib = next((venv / "lib").glob("python3*/site-packages"))
    (lib / "plain-deps.pth").write_text(f"{deps}\n")
    smoke = subprocess.run([sys.executable, str(REPO / ".ci" / "smoke-plain-install.py"), str(venv / "bin")],
                           capture_output=True, text=True, timeout=600, check=False)
    assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-2000:]
    # the kit runs too, from the plain install, against the minimal provider and tmux
    socket = base / "kit-tmux.sock"
    kit = subprocess.run([str(venv / "bin" / "gc-provider-conformance"),
                          str(REPO / "examples" / "minimal-sh" / "gc-session-minimal"),
                          "--only", "check", "--env", f"GC_MINIMAL_TMUX_SOCKET={socket}"],
                         capture_output=True, text=True, timeout=600, check=False, cwd=base)
    subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)
    assert kit.returncode == 0, kit.stdout[-3000:] + kit.stderr[-2000:]
    assert "14 passed" in kit.stdout or " 0 failed" in kit.stdout, kit.stdout[-2000:]


def test_a_user_install_runs_with_the_python_of_its_site_packages(wheel: Path, base: Path) -> None:
    """`pip install --user`: no python beside the launchers; they find their programs in the
    user site-packages and run them with that site-packages' pythonX.Y from PATH."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    interpreter = Path(sys.base_prefix) / "bin" / version
    if not interpreter.exists():
        pytest.skip(f"no base {version} to install for")
    user_base = base / "user base"
    env = {**os.environ, "PYTHONUSERBASE": str(user_base)}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(interpreter), "install", "-q", "--user",
                    "--no-deps", "--no-index", "--no-warn-script-location", str(wheel)], check=True, timeout=300,
                   capture_output=True, env=env)
    bin_dir = user_base / "bin"
    assert not list(bin_dir.glob("*.py"))
    # The dependencies from this environment; the interpreter from PATH, as a shell finds it.
    env.update(PYTHONPATH=sysconfig.get_path("purelib"), PATH=f"{interpreter.parent}:/usr/bin:/bin")
    for name in EXES:
        known = subprocess.run([str(bin_dir / name), *KNOWN[name]], capture_output=True, text=True,
                               timeout=120, env=env, check=False)
        assert known.returncode == 0 and known.stdout, (name, known.stderr)
        unknown = subprocess.run([str(bin_dir / name), "no-such-op"], capture_output=True, text=True,
                                 timeout=120, env=env, check=False)
        assert unknown.returncode == 2 and "unknown operation" in unknown.stderr, (name, unknown.stderr)
