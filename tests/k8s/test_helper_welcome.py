"""The helper outlives no welcome: it starts only when it will serve, reads its version like
the package's, coexists with another install's, and the runtime dir forgets gone pods."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from helpers import REPO, executable
from k8s_helpers import K8s

from gc_session_k8s.cli import VERSION
from providers.kube.transport import answers, wire


def test_the_helper_version_reads_like_the_package_version_with_a_short_code_hash() -> None:
    assert re.fullmatch(re.escape(VERSION) + r"\+[0-9a-f]{10}", wire.code_version()), wire.code_version()
    assert wire.socket_name() == f"helper-{wire.code_version().split('+')[1]}.sock"


def test_another_install_of_the_same_version_has_its_own_helper_socket(tmp_path: Path) -> None:
    for package in ("protocol", "providers", "gc_session_k8s"):
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "bin", "fakekube"))
    code = "from providers.kube.transport import wire; print(wire.code_version(), wire.socket_name())"
    other = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(tmp_path)}, check=True, timeout=60)
    version, socket_name = other.stdout.split()
    assert version.startswith(VERSION + "+") and version != wire.code_version()
    assert socket_name != wire.socket_name()


def test_an_op_with_no_cluster_configured_leaves_no_helper(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
           "GC_K8S_RUNTIME_DIR": str(run_dir), "GC_K8S_NAMESPACE": f"nowhere-{uuid.uuid4().hex[:6]}"}
    env.pop("GC_K8S_TRANSPORT", None)
    for op in (["is-running", "s"], ["process-alive", "s"], ["list-running"]):
        subprocess.run([*executable("gc-session-k8s"), *op], capture_output=True, env=env, timeout=120,
                       check=False, stdin=subprocess.DEVNULL)
    # A launch writes the helper's log before it returns: neither log nor socket, no helper.
    left = sorted(os.listdir(run_dir)) if run_dir.exists() else []
    assert not [name for name in left if name.startswith("helper")], left


def test_generation_files_of_gone_pods_are_pruned_and_only_those(tmp_path: Path) -> None:
    env = {"GC_K8S_RUNTIME_DIR": str(tmp_path)}
    long_ago = time.time_ns() - (answers.MAX_TTL_MS + 60_000) * 1_000_000
    for name in ("gen.ns.here", "gen.ns.gone", "gen.ns.gone-just-now", "gen.other.gone", "helper.log"):
        (tmp_path / name).write_bytes(b"")
        if name != "gen.ns.gone-just-now":
            os.utime(tmp_path / name, ns=(long_ago, long_ago))
    assert answers.prune("ns", {"here"}, env) == 1
    assert sorted(os.listdir(tmp_path)) == ["gen.ns.gone-just-now", "gen.ns.here", "gen.other.gone", "helper.log"]


def test_list_running_prunes_the_generation_files_of_pods_that_are_gone(k8s: K8s, tmp_path: Path) -> None:
    run_dir = tmp_path / "rundir"
    run_dir.mkdir(mode=0o700)
    name = k8s.name()
    env = {"GC_K8S_TRANSPORT": "kubectl", "GC_K8S_RUNTIME_DIR": str(run_dir)}
    assert k8s.start(name, {"command": "sleep 300"}, env=env).rc == 0
    namespace = k8s.env.get("GC_K8S_NAMESPACE", "")
    live = [pod["metadata"]["name"] for pod in k8s.pods()]
    long_ago = time.time_ns() - (answers.MAX_TTL_MS + 60_000) * 1_000_000
    for pod in [*live, f"gone-{uuid.uuid4().hex[:8]}"]:
        (run_dir / f"gen.{namespace}.{pod}").write_bytes(b"")
        os.utime(run_dir / f"gen.{namespace}.{pod}", ns=(long_ago, long_ago))
    listed = k8s.run("list-running", name, env=env)
    assert listed.rc == 0 and name in listed.out
    assert sorted(os.listdir(run_dir)) == sorted(f"gen.{namespace}.{pod}" for pod in live)
