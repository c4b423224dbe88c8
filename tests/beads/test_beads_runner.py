"""The runner pod: per-city isolation, scope init, lifecycle ops, bad input, concurrency."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from beads_helpers import City, make_city

from gc_beads_k8s.naming import runner_pod


def _pod(city: City) -> dict[str, Any]:
    out = subprocess.run(
        ["/usr/bin/kubectl", "-n", "gc", "get", "pod", runner_pod(str(city.root)), "-o", "json"],
        env=city.env, capture_output=True, check=True).stdout
    pod: dict[str, Any] = orjson.loads(out)
    return pod


def test_runner_pod_is_hardened_and_labelled_per_city(city: City) -> None:
    pod = _pod(city)
    spec = pod["spec"]
    container = spec["containers"][0]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["limits"] and container["resources"]["requests"]
    names = {e["name"] for e in container.get("env", [])}
    assert not names & {"GC_DOLT_HOST", "GC_DOLT_PORT"}
    assert pod["metadata"]["labels"]["gc/component"] == "beads-runner"


def test_two_cities_in_one_namespace_get_separate_pods_and_stores(
    kube_env: dict[str, str], shared_dir: Path
) -> None:
    one = make_city(kube_env, shared_dir / "a", name="town")
    two = make_city(kube_env, shared_dir / "b", name="town")
    try:
        for c in (one, two):
            c.ok("start")
            c.ok("init", str(c.root), "mc")
        assert runner_pod(str(one.root)) != runner_pod(str(two.root))
        first = one.create(title="only in one")
        assert [b["id"] for b in one.json("list")] == [first["id"]]
        assert two.json("list") == []
    finally:
        one.run("stop")
        two.run("stop")


def test_two_cities_cannot_share_one_database(kube_env: dict[str, str], shared_dir: Path) -> None:
    one = make_city(kube_env, shared_dir / "a", name="x")
    two = make_city(kube_env, shared_dir / "b", name="y")
    # the same Dolt server and the same prefix → the same database name
    two.env.update(GC_K8S_DOLT_PORT=one.port, GC_BEADS_BD=one.env["GC_BEADS_BD"])
    try:
        one.ok("init", str(one.root), "mc")
        res = two.run("init", str(two.root), "mc")
        assert res.rc == 1
        assert "already belongs to another city" in res.err
        assert len(res.err.strip().splitlines()) == 1
    finally:
        one.run("stop")
        two.run("stop")


def test_second_init_with_another_prefix_loses_nothing(city: City) -> None:
    bead = city.create(title="keep me")
    rig = city.root / "rig"
    rig.mkdir()
    city.ok("init", str(rig), "rg", scope=rig)
    city.ok("init", str(city.root), "other")
    assert [b["id"] for b in city.json("list")] == [bead["id"]]
    rig_bead = city.create(scope=rig, title="rig bead")
    assert rig_bead["id"].startswith("rg-")
    assert [b["id"] for b in city.json("list", scope=rig)] == [rig_bead["id"]]
    assert [b["id"] for b in city.json("list")] == [bead["id"]]


def test_init_is_idempotent_and_honours_database_argument(city: City) -> None:
    rig = city.root / "svc"
    rig.mkdir()
    city.ok("init", str(rig), "sv", "custom_db", scope=rig)
    city.ok("init", str(rig), "sv", "custom_db", scope=rig)
    assert (city.dolt_root / f"fake-dolt_{city.port}" / "custom_db").is_dir()


def test_rig_outside_the_city_gets_its_own_scope(city: City, shared_dir: Path) -> None:
    outside = shared_dir / "elsewhere"
    outside.mkdir()
    city.ok("init", str(outside), "ex", scope=outside)
    bead = city.create(scope=outside, title="ext")
    assert bead["id"].startswith("ex-")
    assert city.json("list") == []


def test_init_uses_canonical_dolt_target_and_rejects_a_partial_one(city: City) -> None:
    rig = city.root / "fe"
    rig.mkdir()
    res = city.run("init", str(rig), "fe", scope=rig, env={"GC_DOLT_HOST": "db.example"})
    assert res.rc == 1
    assert "requires both GC_DOLT_HOST and GC_DOLT_PORT" in res.err
    (city.dolt_root / "canonical_4406").mkdir()
    res = city.run("init", str(rig), "fe", scope=rig,
                   env={"GC_DOLT_HOST": "canonical", "GC_DOLT_PORT": "4406"})
    assert res.rc == 0, res.err
    assert (city.dolt_root / "canonical_4406" / "fe").is_dir()


def test_init_against_unreachable_dolt_fails_with_bds_message(city: City) -> None:
    rig = city.root / "down"
    rig.mkdir()
    res = city.run("init", str(rig), "dn", scope=rig, env={"GC_K8S_DOLT_PORT": "1"})
    assert res.rc == 1
    assert "connection refused" in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_store_op_on_uninitialized_scope_fails_without_saying_not_found(city: City) -> None:
    rig = city.root / "never"
    rig.mkdir()
    res = city.run("list", scope=rig)
    assert res.rc == 1
    assert "not initialized" in res.err and "not found" not in res.err.lower()


def test_missing_runner_pod_is_never_reported_as_not_found(bare_city: City) -> None:
    for op, args in (("get", ("x-1",)), ("close", ("x-1",)), ("update", ("x-1",))):
        res = bare_city.run(op, *args, stdin=b"{}")
        assert res.rc == 1
        assert "unavailable" in res.err
        assert "not found" not in res.err.lower(), res.err


def test_probe_health_stop_follow_the_pod(bare_city: City) -> None:
    assert bare_city.run("probe").rc == 2
    assert bare_city.run("health").rc == 1
    bare_city.ok("start")
    bare_city.ok("start")
    assert bare_city.run("probe").rc == 0
    bare_city.ok("health")
    bare_city.ok("stop")
    bare_city.ok("stop")


def test_start_requires_an_image(bare_city: City) -> None:
    res = bare_city.run("start", env={"GC_K8S_IMAGE": ""})
    assert res.rc == 1
    assert "GC_K8S_IMAGE is required" in res.err


def test_recover_replaces_the_pod_and_scopes_reinit_lazily(city: City) -> None:
    rig = city.root / "lazy"
    rig.mkdir()
    city.ok("init", str(rig), "lz", "lazy_db", scope=rig)
    bead = city.create(title="survives in dolt")
    rig_bead = city.create(scope=rig, title="rig bead")
    city.ok("recover")
    city.ok("health")
    assert city.json("get", bead["id"])["title"] == "survives in dolt"
    assert city.json("get", rig_bead["id"], scope=rig)["title"] == "rig bead"
    assert not (city.dolt_root / f"fake-dolt_{city.port}" / "lz").exists()


@pytest.mark.parametrize(("op", "args", "stdin", "needle"), [
    ("create", (), b"{not json", "invalid JSON"),
    ("create", (), b"[]", "expects a JSON object"),
    ("create", (), b'{"title": 3}', "'title' must be a string"),
    ("create", (), b"{}", "'title' is required"),
    ("create", (), b'{"title":"x","priority":"high"}', "'priority' must be an integer"),
    ("update", ("mc-1",), b'{"labels":"x"}', "'labels' must be a list"),
    ("get", ("--evil",), b"", "must not start with '-'"),
    ("get", (), b"", "usage"),
    ("get", ("a", "b"), b"", "too many arguments"),
    ("list", ("--bogus",), b"", "unknown argument"),
    ("ready", ("--nope",), b"", "unknown argument"),
    ("delete", ("--force",), b"", "usage"),
    ("dep-list", ("mc-1", "sideways"), b"", "invalid direction"),
    ("init", ("only-one",), b"", "usage"),
    ("init", ("/x", "-p"), b"", ""),
], ids=lambda v: str(v)[:20])
def test_bad_input_exits_1_with_one_stderr_line(
    bare_city: City, op: str, args: tuple[str, ...], stdin: bytes, needle: str
) -> None:
    res = bare_city.run(op, *args, stdin=stdin)
    assert res.rc == 1, res
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert needle in res.err
    assert res.out == ""


def test_unknown_operations_exit_2_and_help_exits_0(bare_city: City) -> None:
    assert bare_city.run("mol-cook").rc == 2
    assert bare_city.run("frobnicate").rc == 2
    assert bare_city.run("--help").rc == 0
    for op in ("create", "list", "init", "doctor"):
        res = bare_city.run(op, "--help")
        assert res.rc == 0, res
        assert "usage" in res.out.lower()


def test_parallel_creates_get_distinct_ids_and_nothing_is_lost(city: City) -> None:
    def make(i: int) -> str:
        return str(city.create(title=f"parallel {i}")["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(make, range(24)))
    assert len(set(ids)) == 24
    assert sorted(b["id"] for b in city.json("list")) == sorted(ids)


def test_remote_exit_2_is_reported_as_failure(city: City, shared_dir: Path) -> None:
    fake = shared_dir / "exit2"
    fake.write_text("#!/bin/sh\necho 'Error: flag conflict' >&2\nexit 2\n")
    fake.chmod(0o755)
    res = city.run("list", env={"GC_BEADS_BD": str(fake)})
    assert res.rc == 1
    assert "flag conflict" in res.err


def test_store_ops_need_no_kubernetes_import(city: City) -> None:
    env = {**city.env, **city.scope()}
    out = subprocess.run([*city.provider.argv, "list"], env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                         capture_output=True, check=True).stderr.decode()
    assert "kubernetes" not in out
    assert "typer" not in out
