"""The same provider against pods that are real containers (docker backend of the fake)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_for
from k8s_helpers import K8s, provider_on

pytestmark = pytest.mark.docker


@pytest.fixture
def k8s_docker(fake_kube_docker: Any, tmp_path: Path) -> Iterator[K8s]:
    yield from provider_on(fake_kube_docker, tmp_path)


def test_lifecycle_in_a_real_container(k8s_docker: K8s, tmp_path: Path) -> None:
    k8s = k8s_docker
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("staged\n")
    name = k8s.name()
    res = k8s.start(name, {"work_dir": str(work), "command": "sh -c 'echo up; exec sleep 300'",
                           "env": {"GC_SESSION_ID": "d1"}, "pre_start": ["echo pre > /tmp/pre"]})
    assert res.rc == 0, res.err
    assert k8s.ok("is-running", name) == "true"
    assert k8s.ok("get-meta", name, "GC_SESSION_ID") == "d1"
    assert wait_for(lambda: "up" in k8s.ok("peek", name, "10"))
    assert k8s.ok("process-alive", name, stdin="sleep") == "true"
    assert k8s.ok("process-alive", name, stdin="claude") == "false"
    assert k8s.ok("exec", name, stdin="cat /workspace/notes.txt /tmp/pre") == "staged\npre"
    k8s.ok("nudge", name, stdin="hello")
    assert name in k8s.ok("list-running", "").split("\n")
    k8s.ok("stop", name)
    assert k8s.ok("is-running", name) == "false"
