"""The kit against gc-session-k8s with no image configured stops at its preflight start with the reason."""

from __future__ import annotations

import subprocess

import orjson
from helpers import REPO, executable
from k8s_helpers import K8s


def test_the_kit_stops_at_the_first_failed_start_without_an_image(k8s: K8s) -> None:
    env = {key: value for key, value in k8s.env.items() if key != "GC_K8S_IMAGE"}
    said = k8s.run("start", k8s.name("direct"), stdin=b'{"command":"sleep 300"}', env={"GC_K8S_IMAGE": ""})
    assert said.rc != 0
    reason = said.err.strip().splitlines()[0]
    installed = executable("gc-session-k8s")
    target = installed[0] if len(installed) == 1 else str(REPO / "providers" / "bin" / "gc-session-k8s")
    res = subprocess.run([*executable("gc-provider-conformance"), target, "--json"],
                         capture_output=True, text=True, env={**env, "GC_K8S_IMAGE": "",
                                                              "XDG_STATE_HOME": str(k8s.audit.parent)},
                         timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    doc = orjson.loads(res.stdout)
    assert doc["results"] == []  # no FAILs and SKIPs with misleading hints
    assert reason in doc["preflight"]["detail"] and reason in res.stderr
    assert "preflight failed, no checks run" in res.stderr
