"""The conformance kit against gc-session-k8s with each fast exec transport forced.

The kubectl transport is the default, so `test_conformance.py` covers it; here the same
suites run with ``GC_K8S_TRANSPORT=direct`` (HTTPS/HTTP + WebSocket exec from each
process) and ``helper`` (the resident per-user helper), which must pass unchanged.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from helpers import stop_helper
from k8s_helpers import K8s
from test_conformance import kit


@pytest.fixture(params=["direct", "helper"])
def transport_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    where = tempfile.mkdtemp(prefix="gck-", dir="/tmp")  # short: the helper's socket lives here
    env = {"GC_K8S_TRANSPORT": str(request.param), "GC_K8S_RUNTIME_DIR": where + "/run"}
    try:
        yield env
    finally:
        stop_helper(env["GC_K8S_RUNTIME_DIR"])
        shutil.rmtree(where, ignore_errors=True)


@pytest.mark.slow
def test_required_suites_pass_with_each_fast_transport(k8s: K8s, transport_env: dict[str, str]) -> None:
    res = kit(k8s, "--only", "check", "--only", "rpp", "--only", "runtimetest", env=transport_env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert " 0 failed" in res.stdout
    execs = [line for line in k8s.audit_lines() if line.get("argv", [""])[0] == "exec"]
    assert transport_env["GC_K8S_TRANSPORT"] in {line.get("transport") for line in execs}
    if transport_env["GC_K8S_TRANSPORT"] == "helper":  # the hot ops ran through pod streams
        assert any(line.get("resident") for line in execs)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("GC_TEST_TRANSPORT_ALL_SUITES"),
                    reason="all suites x 2 transports take ~10 min: `make conformance-transports`")
def test_all_suites_pass_with_each_fast_transport(k8s: K8s, transport_env: dict[str, str]) -> None:
    shared = "/var/tmp"
    if not os.path.isdir(shared):
        pytest.skip("/var/tmp missing")
    res = kit(k8s, env={**transport_env, "GC_K8S_WORKDIR_HOSTPATH": "1", "TMPDIR": shared})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 failed" in res.stdout.splitlines()[-1]
