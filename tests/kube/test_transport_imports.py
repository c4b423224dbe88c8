"""The fast transports keep hot ops light: nothing heavy is imported on the way to the pod."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import executable, imported

from protocol.conformance.fakekube.fixtures import FakeKubeEnv

pytest_plugins = ["transport_fixtures"]

#: `orjson` (which imports json, dataclasses, inspect, ast, uuid), `typing`, `subprocess`
#: and the cold paths' libraries: never on a hot op, whatever its transport.
HEAVY = {"orjson", "typing", "subprocess", "kubernetes", "typer", "rich", "libtmux"}
#: What the direct transport needs (`ssl`, which encodes the server name with the idna
#: codec, `json`, and `re` under both; `socket`) and the quickest path does not: the helper
#: holds the connections, and its door is a FIFO (`posix` calls only).
DIRECT_ONLY = {"ssl", "json", "re", "encodings.idna", "socket", "selectors", "enum"}


def modules_of(argv: list[str], env: dict[str, str]) -> set[str]:
    proc, names = imported(argv, env)
    assert proc.returncode == 0, proc.stderr.decode()[-800:]
    return names


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
    argv = [*executable("gc-session-k8s"), "is-running", "transport-pod"]
    subprocess.run(argv, env=env, capture_output=True, timeout=120,
                   check=False)  # resolves the kubeconfig; starts the helper
    if transport != "direct":
        import time

        from providers.kube.transport.helper_client import control

        deadline = time.monotonic() + 30
        while control("status") is None:
            assert time.monotonic() < deadline, "the helper did not start"
            time.sleep(0.05)
    modules = modules_of(argv, env)
    assert not modules & HEAVY, sorted(modules & HEAVY)
    if transport != "direct":
        assert not modules & DIRECT_ONLY, sorted(modules & DIRECT_ONLY)
        assert "providers.kube.transport.direct" not in modules  # it went through the helper
