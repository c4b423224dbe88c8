"""Security by default: pod settings, credentials as files, secrets never in spec, env or logs."""

from __future__ import annotations

from pathlib import Path

import orjson
from k8s_helpers import K8s

SECRET = "hunter2-s3cr3t-value"
CREDENTIAL = "oauth-token-in-secret-file"


def assert_secure(pod: dict) -> None:  # type: ignore[type-arg]
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in [*spec.get("initContainers", []), *spec["containers"]]:
        ctx = c["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}


def test_every_pod_spec_is_locked_down(k8s: K8s, tmp_path: object) -> None:
    name = k8s.name()
    assert k8s.start(name, {"command": "sleep 300", "work_dir": str(tmp_path)}).rc == 0
    pod = k8s.pod(name)
    assert pod is not None
    assert_secure(pod)
    assert pod["spec"]["initContainers"][0]["name"] == "stage"
    labels = pod["metadata"]["labels"]
    assert labels["app"] == "gc-agent" and labels["gc-session"] == name
    assert pod["metadata"]["annotations"]["gc-session-name"] == name


def test_run_as_user_makes_the_pod_non_root(k8s: K8s) -> None:
    res = k8s.run("manifest", "x", stdin=b'{"command":"sleep 1"}',
                  env={"GC_K8S_RUN_AS_USER": "1000", "GC_K8S_IMAGE_PULL_SECRET": "regcred",
                       "GC_K8S_SERVICE_ACCOUNT": "gc-agent"})
    assert res.rc == 0, res.err
    pod = orjson.loads(res.out)
    assert_secure(pod)
    assert pod["spec"]["securityContext"]["runAsUser"] == 1000
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["spec"]["serviceAccountName"] == "gc-agent"


def test_manifest_prints_without_a_cluster_and_uses_upstream_defaults(k8s: K8s) -> None:
    env = {"KUBECONFIG": "/nonexistent", "GC_K8S_NAMESPACE": ""}
    res = k8s.run("manifest", "mayor", stdin=b'{"command":"claude","env":{"GC_AGENT":"mayor"}}',
                  env=env)
    assert res.rc == 0, res.err
    pod = orjson.loads(res.out)
    agent = pod["spec"]["containers"][0]
    assert pod["metadata"]["namespace"] == "gc"
    assert agent["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                  "limits": {"cpu": "2", "memory": "4Gi"}}
    assert pod["metadata"]["labels"]["gc-agent"] == "mayor"
    assert k8s.run("manifest", "x", stdin=b"{}", env={"GC_K8S_IMAGE": ""}).rc == 1


def test_secrets_reach_the_agent_but_never_the_spec_env_or_audit_log(k8s: K8s) -> None:
    made = k8s.kubectl("create", "secret", "generic", "claude-credentials",
                       f"--from-literal=.credentials.json={CREDENTIAL}")
    assert made.returncode == 0 or "AlreadyExists" in made.stderr, made.stderr
    try:
        name = k8s.name()
        cfg = {"command": "sleep 300",
               "env": {"GC_DOLT_PASSWORD": SECRET, "ANTHROPIC_API_KEY": SECRET, "GC_PLAIN": "ok"}}
        res = k8s.start(name, cfg)
        assert res.rc == 0, res.err
        pod = k8s.pod(name)
        spec_text = orjson.dumps(pod).decode()
        assert SECRET not in spec_text and CREDENTIAL not in spec_text
        assert {"name": "GC_PLAIN", "value": "ok"} in pod["spec"]["containers"][0]["env"]  # type: ignore[index]
        # The agent sees its secret env (tmux session env), the credential as a file.
        assert k8s.ok("get-meta", name, "GC_DOLT_PASSWORD") == SECRET
        shown = k8s.ok("exec", name, stdin="cat $HOME/.claude/.credentials.json; env")
        assert CREDENTIAL in shown.splitlines()[0]
        assert SECRET not in shown  # not in the container env either
        k8s.ok("set-meta", name, "API_TOKEN", stdin=SECRET)
        audit = k8s.audit.read_text()
        assert audit and SECRET not in audit and CREDENTIAL not in audit
    finally:
        k8s.kubectl("delete", "secret", "claude-credentials", "--ignore-not-found")


def test_audit_log_has_one_line_per_call_with_a_correlation_id(k8s: K8s) -> None:
    name = k8s.name()
    assert k8s.start(name).rc == 0
    lines = k8s.audit_lines()
    assert {"ts", "id", "op", "pod", "argv", "duration_ms", "exit"} <= set(lines[0])
    starts = [line for line in lines if line["op"] == "start"]
    assert len({line["id"] for line in starts}) == 1
    assert any(line["argv"][:3] == ["api", "create", "pods"] for line in starts)
    k8s.ok("is-running", name)
    last = k8s.audit_lines()[-1]
    assert last["op"] == "is-running" and last["pod"] == name and last["exit"] == 0
    assert last["id"] != starts[0]["id"]


def test_a_prebaked_image_keeps_its_own_workspace_and_nothing_is_staged(k8s: K8s,
                                                                      tmp_path: Path) -> None:
    name = k8s.name()
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "from-host.txt").write_text("staged?")
    res = k8s.start(name, {"command": "sleep 300", "overlay_dir": str(overlay)},
                    env={"GC_K8S_PREBAKED": "true"})
    assert res.rc == 0, res.err
    pod = k8s.pod(name)
    assert pod is not None
    assert_secure(pod)
    assert "initContainers" not in pod["spec"]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["claude-config"]
    assert all(m["name"] != "ws" for m in pod["spec"]["containers"][0]["volumeMounts"])
    assert k8s.ok("is-running", name) == "true"
    assert not any("stage" in line["argv"] for line in k8s.audit_lines() if line["pod"] == name)
