"""The conformance kit (protocol/conformance) against gc-session-k8s on the offline server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from typing import Any

import pytest
from k8s_helpers import K8s


def kit(k8s: K8s, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("gc-provider-conformance", path=sysconfig.get_path("scripts"))
    argv = [exe] if exe else [sys.executable, "-m", "protocol.conformance"]
    return subprocess.run([*argv, k8s.argv[-1], *extra], env={**k8s.env, **(env or {})},
                          capture_output=True, text=True, timeout=1500, check=False)


@pytest.mark.slow
def test_required_suites_pass_with_staged_work_dirs(k8s: K8s) -> None:
    res = kit(k8s, "--only", "check", "--only", "rpp", "--only", "runtimetest")
    assert res.returncode == 0, res.stdout + res.stderr
    assert " 0 failed" in res.stdout


@pytest.mark.slow
def test_all_suites_pass_with_a_shared_host_work_dir(k8s: K8s, tmp_path: Any) -> None:
    # The strict checks watch files the session writes into work_dir on the host, so they
    # run in hostPath mode (GC_K8S_WORKDIR_HOSTPATH), as on a single-node cluster. The
    # kit's dirs must not live under /tmp: the local backend gives each pod its own /tmp.
    shared = "/var/tmp"
    if not os.path.isdir(shared):
        pytest.skip("/var/tmp missing")
    # The default transport (auto); each transport forced is test_conformance_transports.py.
    res = kit(k8s, env={"GC_K8S_WORKDIR_HOSTPATH": "1", "TMPDIR": shared})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 failed" in res.stdout.splitlines()[-1]
