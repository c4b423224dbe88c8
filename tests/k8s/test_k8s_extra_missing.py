"""A plain install (no `[k8s]` extra) lacks the Kubernetes client: each command that needs it
says exactly what to install, in one line, exit 1; the hot ops never needed it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import executable
from k8s_helpers import K8s

INSTALL = "pip install 'gc-session-providers[k8s]'"


def without_the_client(tmp_path: Path) -> dict[str, str]:
    """An environment where `import kubernetes` fails as on a plain install."""
    blocker = tmp_path / "no-k8s-extra" / "kubernetes"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'kubernetes'\", name='kubernetes')\n")
    return {"PYTHONPATH": str(blocker.parent), "GC_K8S_TRANSPORT": "kubectl"}


def test_start_without_the_k8s_extra_says_what_to_install(k8s: K8s, tmp_path: Path) -> None:
    started = k8s.start(k8s.name(), {"command": "sleep 300"}, env=without_the_client(tmp_path))
    assert started.rc == 1, started
    assert started.err.count("\n") == 1 and INSTALL in started.err, started.err
    assert k8s.pods() == []


def test_the_doctor_without_the_k8s_extra_names_the_install(k8s: K8s, tmp_path: Path) -> None:
    doctor = k8s.run("doctor", env=without_the_client(tmp_path))
    assert doctor.rc == 1 and INSTALL in doctor.out, doctor


def test_hot_ops_need_no_k8s_extra(k8s: K8s, tmp_path: Path) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "sleep 300"}).rc == 0
    env = without_the_client(tmp_path)
    assert k8s.run("is-running", name, env=env).value == "true"
    assert name in k8s.run("list-running", name, env=env).out


def test_the_beads_store_start_without_the_k8s_extra_says_what_to_install(k8s: K8s, tmp_path: Path) -> None:
    env = {**os.environ, **k8s.env, "GC_K8S_IMAGE": "gc-test/agent:latest", **without_the_client(tmp_path),
           "GC_K8S_RUNTIME_DIR": str(tmp_path / "run")}
    started = subprocess.run([*executable("gc-beads-k8s"), "start"], capture_output=True, text=True, env=env,
                             stdin=subprocess.DEVNULL, timeout=120, check=False)
    assert started.returncode == 1 and started.stderr.count("\n") == 1, started
    assert INSTALL in started.stderr, started.stderr
