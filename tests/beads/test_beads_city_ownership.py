"""A city's store never acts on another city's runner pod, even when their pod names meet.

Pod names carry a short hash of the city path; two paths whose names collide (found on
purpose, or one ``GC_K8S_BEADS_RUNNER_POD`` given to two cities, as here) must not share
a pod, its workspace or its databases: the pod carries its city path, and start, every
store op, stop and recover check it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from beads_helpers import make_city


def test_a_city_whose_runner_pod_name_collides_leaves_the_other_citys_pod_alone(
        kube_env: dict[str, str], shared_dir: Path) -> None:
    pod = f"gc-beads-shared-{uuid.uuid4().hex[:6]}"
    one = make_city(kube_env, shared_dir / "a", name="town")
    two = make_city(kube_env, shared_dir / "b", name="town")
    for c in (one, two):
        c.env["GC_K8S_BEADS_RUNNER_POD"] = pod
    try:
        one.ok("start")
        one.ok("init", str(one.root), "mc")
        bead = one.create(title="only in one")
        for op, args in [("start", ()), ("recover", ()), ("list", ()), ("get", (bead["id"],)),
                         ("create", ())]:
            res = two.run(op, *args, stdin=b'{"title":"from two"}' if op == "create" else b"")
            assert res.rc == 1, (op, res)
            assert "serves another city" in res.err, (op, res.err)
            assert len(res.err.strip().splitlines()) == 1
            assert "not found" not in res.err
        assert two.run("stop").rc == 0
        assert [b["id"] for b in one.json("list")] == [bead["id"]]  # pod and store intact
        assert one.ok("probe") == ""
    finally:
        one.run("stop")
