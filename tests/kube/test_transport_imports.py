"""The fast transports keep hot ops light: nothing heavy is imported on the way to the pod."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import executable

from providers.kube.fakekube.fixtures import FakeKubeEnv

pytest_plugins = ["transport_fixtures"]

#: `re` (+idna), `enum`, `socket`/`ssl` (both pull in enum and selectors), `orjson`
#: (which imports json, dataclasses, inspect, ast, uuid), `typing`.
HEAVY = {"re", "enum", "socket", "ssl", "selectors", "orjson", "json", "typing", "subprocess",
         "encodings.idna", "kubernetes", "typer", "rich", "libtmux"}


def imported(argv: list[str], env: dict[str, str]) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-800:]
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("transport", ["direct", "helper", ""],
                         ids=["direct", "helper", "default (auto)"])
def test_a_hot_op_imports_nothing_heavy(helper_env: FakeKubeEnv, tmp_path: Path,
                                        transport: str) -> None:
    import os

    env = {**os.environ, "GC_K8S_TRANSPORT": transport, "GC_K8S_NAMESPACE": "gc",
           "GC_KUBECTL": "/usr/bin/kubectl"}
    if not transport:
        del env["GC_K8S_TRANSPORT"]
    env.pop("GC_K8S_AUDIT_LOG", None)  # the audit log is opt-in and may import more
    script = executable("gc-session-k8s")[-1]
    argv = [script, "is-running", "transport-pod"]
    subprocess.run([sys.executable, *argv], env=env, capture_output=True, timeout=120,
                   check=False)  # resolves the kubeconfig; starts the helper
    if transport != "direct":
        import time

        from providers.kube.transport.helper_client import control

        deadline = time.monotonic() + 30
        while control("status") is None:
            assert time.monotonic() < deadline, "the helper did not start"
            time.sleep(0.05)
    modules = imported(argv, env)
    assert not modules & HEAVY, sorted(modules & HEAVY)
    if transport != "direct":
        assert "providers.kube.transport.direct" not in modules  # it went through the helper
