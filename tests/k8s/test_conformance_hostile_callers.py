"""The kit's hostile-caller checks against gc-session-k8s on the offline servers.

ISOLATION-003 learns the pod's name through `--backing-name-command` (and the pod's
hostname); ISOLATION-004 runs from two directories whose relative `kc` names two
clusters (the plain and the TLS offline server), through the resident helper, which
once answered for the first caller's cluster.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import stop_helper
from k8s_helpers import NAMESPACE, K8s

#: The pod of session $1, as gc-session-k8s names it.
POD_NAME = (
    f"{shlex.quote(sys.executable)} -c 'import os, sys; from gc_session_k8s.naming import session_pod; "
    'print(session_pod(sys.argv[1], os.environ.get("GC_K8S_CITY", "")))\' "$1"'
)

HOSTILE = ("GC-STRICT-ISOLATION-003", "GC-STRICT-ISOLATION-004", "GC-STRICT-USAGE-005",
           "GC-STRICT-INJECT-007", "GC-STRICT-CANCEL-004")


def kit(k8s: K8s, *extra: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("gc-provider-conformance", path=sysconfig.get_path("scripts"))
    argv = [exe] if exe else [sys.executable, "-m", "protocol.conformance"]
    return subprocess.run([*argv, k8s.argv[-1], *extra], env={**k8s.env, **env},
                          capture_output=True, text=True, timeout=1500, check=False)


def only(*codes: str) -> list[str]:
    return [arg for code in codes for arg in ("--only", code)]


def passed(res: subprocess.CompletedProcess[str], count: int) -> None:
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{count} passed, 0 failed" in res.stdout.splitlines()[-1]


@contextmanager
def helper_dir() -> Iterator[dict[str, str]]:
    """A private runtime dir: the first op that needs the helper starts it."""
    runtime = tempfile.mkdtemp(prefix="gck-", dir="/tmp")  # short: the helper's socket lives here
    try:
        yield {"GC_K8S_TRANSPORT": "auto", "GC_K8S_RUNTIME_DIR": runtime + "/run"}
    finally:
        stop_helper(runtime + "/run")
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.mark.slow
def test_gc_session_k8s_passes_the_hostile_caller_checks_on_its_host(k8s: K8s) -> None:
    # Host-observed checks (INJECT-007, CANCEL-004) need the work dir shared with the
    # pod: hostPath mode, kit dirs outside /tmp (each local pod has a /tmp of its own).
    if not os.path.isdir("/var/tmp"):
        pytest.skip("/var/tmp missing")
    with helper_dir() as transport:
        res = kit(k8s, *only(*HOSTILE[:1], *HOSTILE[2:]), "--backing-name-command", POD_NAME,
                  env={"GC_K8S_WORKDIR_HOSTPATH": "1", "TMPDIR": "/var/tmp", **transport})
    passed(res, 4)


@pytest.mark.slow
def test_two_cities_with_a_relative_kubeconfig_never_reach_each_other(
        k8s: K8s, fake_kube_tls_server: tuple[Any, str], tmp_path: Path) -> None:
    other, _ = fake_kube_tls_server
    other.create_namespace(NAMESPACE)
    dirs = []
    for city, server in (("city-a", k8s.server), ("city-b", other)):
        (tmp_path / city).mkdir()
        server.write_kubeconfig(str(tmp_path / city / "kc"))
        dirs += ["--caller-dir", str(tmp_path / city)]
    with helper_dir() as transport:
        res = kit(k8s, *only(HOSTILE[1]), "--relative-env", "KUBECONFIG=kc", *dirs, env=transport)
    passed(res, 1)
