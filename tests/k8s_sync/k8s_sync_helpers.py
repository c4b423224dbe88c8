"""Helpers for the `gc-session-k8s sync` tests: agent pods on the fake API server, git.

Each pod is made the way the k8s provider makes them (name from
`protocol.sanitize.pod_name`, labels ``app=gc-agent`` and ``gc-session``, the
``gc-session-name`` annotation, container ``agent``) but runs ``sleep``. Its
/workspace is a hostPath under /var/tmp (a pod's /tmp is its own) holding a
clone of the test's base repository; every change in the pod goes through
``kubectl exec``, as an agent's would.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from protocol.conformance.fakekube.fixtures import FakeKubeEnv
from protocol.sanitize import pod_name, sanitize_label

NAMESPACE = "gc"
IDENTITY = ["-c", "user.name=Agent", "-c", "user.email=agent@example.com"]


def git(repo: Path | str, *args: str) -> str:
    """Host-side git with a fixed identity; raises on failure, returns stdout stripped."""
    done = subprocess.run(["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@dataclass
class AgentPod:
    """One session's pod and its host-visible workspace."""

    kube: FakeKubeEnv
    session: str
    name: str
    workspace: Path

    def sh(self, script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a shell script in the pod's /workspace (values arrive as $1…, never inlined)."""
        done = self.kube.kubectl("-n", NAMESPACE, "exec", self.name, "-c", "agent", "--",
                                 "sh", "-c", f"cd /workspace && {script}", "sh", *args)
        if check:
            assert done.returncode == 0, f"{script}: {done.stderr}"
        return done

    def commit(self, path: str, text: str, message: str) -> str:
        """Write a file and commit it in the pod; returns the new HEAD."""
        self.sh('printf "%s\\n" "$2" > "$1" && git add -- "$1" && '
                f"git {shlex.join(IDENTITY)} commit -q -m \"$3\" && git rev-parse HEAD",
                path, text, message)
        return self.git("rev-parse", "HEAD")

    def git(self, *args: str) -> str:
        done = self.kube.kubectl("-n", NAMESPACE, "exec", self.name, "-c", "agent", "--",
                                 "git", "-C", "/workspace", *args)
        assert done.returncode == 0, f"pod git {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()


@dataclass
class Pods:
    kube: FakeKubeEnv
    root: Path
    made: list[AgentPod] = field(default_factory=list)

    def start(self, session: str, seed: Callable[[Path], None]) -> AgentPod:
        """Create the session's pod with /workspace prepared by ``seed(host_dir)``."""
        workspace = self.root / f"ws-{len(self.made)}"
        seed(workspace)
        name = pod_name(session)
        manifest = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "namespace": NAMESPACE,
                "labels": {"app": "gc-agent", "gc-session": sanitize_label(session)},
                "annotations": {"gc-session-name": session},
            },
            "spec": {
                "containers": [{
                    "name": "agent", "image": "gc-test/agent:latest",
                    "command": ["sleep", "infinity"], "workingDir": "/workspace",
                    "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"}],
                }],
                "volumes": [{"name": "workspace",
                             "hostPath": {"path": str(workspace), "type": "Directory"}}],
                "terminationGracePeriodSeconds": 0,
            },
        }
        made = self.kube.kubectl("create", "-f", "-", input=orjson.dumps(manifest))
        assert made.returncode == 0, made.stderr
        self.kube.server.wait_pod(NAMESPACE, name, "Running", timeout=60)
        pod = AgentPod(self.kube, session, name, workspace)
        self.made.append(pod)
        return pod

    def clone_of(self, base: Path) -> Callable[[Path], None]:
        def seed(into: Path) -> None:
            git(base.parent, "clone", "-q", str(base), str(into))

        return seed


def repo_state(repo: Path) -> dict[str, object]:
    """Everything a sync must not touch unless told to: refs, HEAD, index, work tree, objects."""
    objects = sorted(str(p.relative_to(repo / ".git" / "objects"))
                     for p in (repo / ".git" / "objects").rglob("*") if p.is_file())
    return {
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(repo, "symbolic-ref", "-q", "HEAD") + " " + git(repo, "rev-parse", "HEAD"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "index": (repo / ".git" / "index").read_bytes(),
        "files": {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*")
                  if p.is_file() and ".git" not in p.parts},
        "objects": objects,
    }


def branch_commits(repo: Path, branch: str) -> list[str]:
    return git(repo, "rev-list", branch).split()
