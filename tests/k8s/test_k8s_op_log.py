"""gc-session-k8s: every op gc calls leaves one line in the audit log, carrying the id of the
calls it made, and no secret of the suite's secret-bearing start configs reaches any line;
the same ops are counted in $GC_METRICS_DIR by op and exit. Under the default transport,
so the tick's reads are answered by the helper whole: it writes their lines and counts
them into the client's file, its paths read from the client's working directory."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
from k8s_helpers import K8s
from test_secret_env import SECRETS
from test_security import CREDENTIAL, SECRET

from protocol import metrics
from providers.kube.transport.helper_client import control


def wait_for_helper(k8s: K8s) -> None:
    """Until the helper of the provider's runtime dir answers (asked in-process: an op of the
    executable would add its own line)."""
    deadline = time.monotonic() + 30
    while control("status", {"GC_K8S_RUNTIME_DIR": k8s.env["GC_K8S_RUNTIME_DIR"]}) is None:
        assert time.monotonic() < deadline, "the helper did not start"
        time.sleep(0.05)


def test_every_op_leaves_one_audit_line_with_its_calls_id_and_no_secret(
        k8s: K8s, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stem = f"metrics-{uuid.uuid4().hex[:8]}"
    where = tmp_path / stem
    where.mkdir(mode=0o700)
    # Relative: the helper (whose directory is /) reads them from the client's directory.
    k8s.env.update(GC_METRICS_DIR=stem, GC_K8S_AUDIT_LOG=k8s.audit.name,
                   GC_SESSION_ID="gc-77", GC_REQUEST_ID="tick-3")
    assert k8s.env["GC_K8S_TRANSPORT"] == "auto" and k8s.audit.parent == tmp_path
    monkeypatch.chdir(tmp_path)  # the executables run here (the client's directory)
    name = k8s.name()
    codes: list[tuple[str, int]] = []
    res = k8s.start(name, {"command": "sleep 300",
                           "env": {**SECRETS, "GC_DOLT_PASSWORD": SECRET, "ANTHROPIC_API_KEY": SECRET}})
    assert res.rc == 0, res.err
    codes.append(("start", res.rc))
    wait_for_helper(k8s)  # start's exec started it: the reads below are the helper's to answer
    for op, args, stdin in [("is-running", [], b""), ("get-meta", ["GITHUB_PAT"], b""),
                            ("set-meta", ["API_TOKEN"], SECRET.encode()), ("process-alive", [], b"sleep"),
                            ("peek", ["5"], b""), ("get-meta", ["-bad"], b""), ("stop", [], b"")]:
        codes.append((op, k8s.run(op, name, *args, stdin=stdin).rc))
    assert codes[-2] == ("get-meta", 1) and all(rc == 0 for op, rc in codes[:-2])

    text = k8s.audit.read_text()
    for secret in (*SECRETS.values(), SECRET, CREDENTIAL, "s3cr3t"):
        assert secret not in text
    lines = k8s.audit_lines(with_ops=True)
    ops = [e for e in lines if e.get("kind") == "op"]
    assert [(e["op"], e["exit"]) for e in ops] == codes
    assert len({e["id"] for e in ops}) == len(ops)
    for entry in ops:
        assert (entry["exe"], entry["gc_session_id"], entry["request"]) == ("gc-session-k8s", "gc-77", "tick-3")
        assert entry["session"] == name
    whole = [e["op"] for e in ops if e.get("answered") == "whole"]
    assert whole == ["is-running", "get-meta", "process-alive", "peek"]
    assert all(e["transport"] == "helper" for e in ops if e.get("answered"))
    # The calls of each op come before its line and carry its id.
    since = 0
    for at, entry in enumerate(lines):
        if entry.get("kind") == "op":
            assert {e["id"] for e in lines[since:at]} <= {entry["id"]}, entry["op"]
            since = at + 1
    assert any(e.get("kind") != "op" and e["id"] == ops[0]["id"] for e in lines)  # start's execs

    counted = metrics.read(str(where))
    want = Counter((op, str(rc)) for op, rc in codes)
    got = {(dict(labels)["op"], dict(labels)["exit"]): values[0]
           for (family, labels), values in counted.samples.items() if family == metrics.OPS}
    assert got == want
    calls = {dict(labels)["transport"]: values[0]
             for (family, labels), values in counted.samples.items() if family == metrics.CALLS}
    assert calls.get("helper", 0) >= len(whole)  # each answered read ran one exec or more

    shown = k8s.run("stats", "--json")  # over the audit log: the per-call lines are skipped
    assert shown.rc == 0, shown.err
    rows = {row["op"]: (row["count"], row["errors"]) for row in orjson.loads(shown.out)}
    assert rows == {op: (sum(1 for o, _ in codes if o == op), sum(1 for o, rc in codes if o == op and rc))
                    for op, _ in codes}
