"""The conformance kit's rpp and env suites and its stream checks against gc-session-k8s on
the offline server: nothing SKIPs but env.ledger, which stays undeclared until a pod can
reach the controller's GC_BEADS_API (the tunnel); the image's gc, bd and git are the
stand-ins of tests/doubles (GC_K8S_TOOLS_PATH: the local backend's image is this host).

GC-STRICT-STREAM-001 looks for the command's processes from the kit's host, which it
does only when sessions share its filesystem: with staged work dirs it SKIPs (a remote
box), so the same checks run again on a work dir shared with the host (hostPath), where
it passes too."""

from __future__ import annotations

import os

import pytest
from helpers import box_tools
from k8s_helpers import K8s

from protocol.conformance.model import Status
from protocol.conformance.session import run

BOX_TOOLS = box_tools()  # where a pod's user can run them
#: Not declared, and not looked at from the host (see the module docstring).
EXPECTED_SKIPS = {"ENV-LEDGER": "not declared", "GC-STRICT-STREAM-001": "a remote box"}
ONLY = ("rpp", "env", "GC-STRICT-STREAM-001", "GC-STRICT-WATCH-001")


@pytest.mark.slow
def test_the_rpp_and_env_suites_and_the_stream_checks_pass_with_no_skip_but_the_ledger(
        k8s: K8s) -> None:
    if len(k8s.argv) != 1:
        pytest.skip("gc-session-k8s is not installed as a script")
    outcome = run(k8s.argv[0], {**k8s.env, "GC_K8S_TOOLS_PATH": str(BOX_TOOLS)}, ONLY)
    rows = {row.result.code: row.result for row in outcome.rows}
    failed = [f"{code}: {r.detail}" for code, r in rows.items() if r.status is Status.FAIL]
    assert failed == []
    skipped = {code: r.detail for code, r in rows.items() if r.status is Status.SKIP}
    assert set(skipped) == set(EXPECTED_SKIPS), skipped
    assert [code for code, why in EXPECTED_SKIPS.items() if why not in skipped[code]] == []
    assert {"RPP-CONN-002", "GC-STRICT-STREAM-001", "GC-STRICT-WATCH-001", "ENV-WORKSPACE",
            "ENV-TOOLING", "ENV-IDENTITY", "ENV-TRANSCRIPTS"} <= set(rows)


@pytest.mark.slow
def test_on_a_work_dir_shared_with_the_host_only_the_ledger_skips(k8s: K8s) -> None:
    if len(k8s.argv) != 1:
        pytest.skip("gc-session-k8s is not installed as a script")
    shared = "/var/tmp"  # not /tmp: the local backend gives each pod its own
    if not os.path.isdir(shared):
        pytest.skip("/var/tmp missing")
    env = {**k8s.env, "GC_K8S_WORKDIR_HOSTPATH": "1", "TMPDIR": shared,
           "GC_K8S_TOOLS_PATH": str(BOX_TOOLS)}
    outcome = run(k8s.argv[0], env, ONLY)
    statuses = {row.result.code: row.result.status for row in outcome.rows}
    assert [f"{r.result.code}: {r.result.detail}" for r in outcome.rows
            if r.result.status is not Status.PASS and r.result.code != "ENV-LEDGER"] == []
    assert statuses["ENV-LEDGER"] is Status.SKIP
    assert statuses["GC-STRICT-STREAM-001"] is Status.PASS
