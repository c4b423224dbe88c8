"""examples/k8s stays in step with what the provider uses."""

from __future__ import annotations

from pathlib import Path

import yaml  # type: ignore[import-untyped,unused-ignore]
from helpers import REPO
from k8s_helpers import K8s

from gc_beads_k8s.doctor import REQUIRED_ACCESS
from gc_session_k8s.doctor import VERBS

EXAMPLES = REPO / "examples" / "k8s"


def granted() -> set[tuple[str, str]]:
    docs = list(yaml.safe_load_all((EXAMPLES / "rbac.yaml").read_text()))
    role = next(d for d in docs if d and d["kind"] == "Role")
    return {(verb, resource) for rule in role["rules"] for resource in rule["resources"]
            for verb in rule["verbs"]}


def test_the_example_role_grants_every_verb_doctor_checks() -> None:
    for verb, resource, sub in VERBS:
        assert (verb, f"{resource}/{sub}" if sub else resource) in granted()


def test_the_example_role_grants_every_verb_beads_doctor_checks() -> None:
    for check in REQUIRED_ACCESS:
        assert (check.verb, check.describe().split(" ", 1)[1]) in granted()


def test_the_example_image_has_what_pods_need() -> None:
    text = (EXAMPLES / "Dockerfile").read_text()
    for tool in ("tmux", "procps", "tar", "coreutils", "git"):
        assert tool in text
    assert Path(EXAMPLES / "README.md").read_text().startswith("# From local tmux to Kubernetes")


def test_on_the_offline_server_the_namespace_applies_and_the_role_needs_a_real_cluster(k8s: K8s) -> None:
    """What the operator guide and examples/k8s/README.md say about `kubectl apply` there."""
    applied = k8s.kubectl("apply", "-f", str(EXAMPLES / "namespace.yaml"))
    assert applied.returncode == 0, applied.stderr
    refused = k8s.kubectl("apply", "-f", str(EXAMPLES / "rbac.yaml"))
    assert refused.returncode != 0 and "failed to download openapi" in refused.stderr
    refused = k8s.kubectl("apply", "--validate=false", "-f", str(EXAMPLES / "rbac.yaml"))
    assert refused.returncode != 0 and 'no matches for kind "ServiceAccount"' in refused.stderr
