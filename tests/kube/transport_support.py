"""Shared by the transport tests: a running pod on the HTTPS fake, kubeconfig variants,
throwaway certificates, exec plugins, and a record of the headers the server saw."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from protocol.conformance.fakekube.fixtures import FakeKubeEnv
from providers.kube.settings import KubeSettings

NAMESPACE = "gc"
POD = "transport-pod"
SETTINGS = KubeSettings(namespace=NAMESPACE, kubectl="/usr/bin/kubectl", request_timeout=10)
#: The bearer tokens the tests' own kubeconfigs (and plugins, service accounts) carry: the
#: fake takes them besides its own during a transport test (`FakeKube.accept_token`).
TOKENS = ("x", "t0k", "one", "first", "rotated", "sa-token", "from-plugin", "tk")


def ensure_pod(kube: FakeKubeEnv, name: str = POD) -> str:
    """A running pod with one container 'agent' (made once per server)."""
    kube.namespace(NAMESPACE)
    if kube.server.pod(NAMESPACE, name) is None:
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": NAMESPACE},
               "spec": {"containers": [{"name": "agent", "image": "gc-test/agent:latest",
                                        "command": ["/bin/sh", "-c", "sleep infinity"]}]}}
        r = kube.kubectl("apply", "-f", "-", input=orjson.dumps(pod).decode())
        assert r.returncode == 0, r.stderr
    kube.server.wait_pod(NAMESPACE, name, "Running")
    return name


def ca_b64(kube: FakeKubeEnv) -> str:
    assert kube.server.ca_file
    return base64.b64encode(Path(kube.server.ca_file).read_bytes()).decode()


def write_kubeconfig(path: Path, *, cluster: dict[str, Any], user: dict[str, Any]) -> str:
    cfg = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "c", "cluster": cluster}],
           "users": [{"name": "u", "user": user}],
           "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u",
                                                  "namespace": NAMESPACE}}],
           "current-context": "x"}
    path.write_bytes(orjson.dumps(cfg))
    return str(path)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def client_cert(directory: Path, stem: str = "client") -> tuple[Path, Path]:
    """A self-signed EC client certificate and its key (PEM files)."""
    key, crt = directory / f"{stem}.key", directory / f"{stem}.crt"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "1",
            "-subj", f"/CN={stem}", cwd=directory)
    return crt, key


def plugin(directory: Path, *, status: dict[str, Any], name: str = "plugin") -> tuple[str, Path]:
    """An exec credential plugin printing ``status``; returns (command, its run-count file)."""
    count = directory / f"{name}.count"
    script = directory / name
    body = orjson.dumps({"apiVersion": "client.authentication.k8s.io/v1",
                         "kind": "ExecCredential", "status": status}).decode()
    script.write_text(f"#!/bin/sh\necho run >> '{count}'\ncat <<'JSON'\n{body}\nJSON\n")
    script.chmod(0o755)
    return str(script), count


def runs(count: Path) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    log = tmp_path / "audit.jsonl"
    if not log.exists():
        return []
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line]
    return [line for line in lines if line.get("kind") != "op"]  # the per-call lines


def fallbacks(tmp_path: Path) -> list[str]:
    return [line["fallback"] for line in audit_lines(tmp_path) if "fallback" in line]


def transports(tmp_path: Path) -> list[str]:
    return [line["transport"] for line in audit_lines(tmp_path) if "fallback" not in line]


def helper_misses(tmp_path: Path) -> list[str]:
    """Why the helper did not serve each call that went direct instead (audit ``helper``)."""
    return [line["helper"] for line in audit_lines(tmp_path) if "helper" in line]


def use(monkeypatch: pytest.MonkeyPatch, kubeconfig: str) -> None:
    monkeypatch.setenv("KUBECONFIG", kubeconfig)

