"""gc-beads-k8s against the real kube-apiserver, authenticated with only examples/k8s's RBAC.

The runner pod runs on the node agent (the host is the image) as uid 1000 under Pod
Security `restricted`; its `bd` is the fake bd double (tests/doubles/fake_bd.py) with a
directory for a Dolt server, both under /var/tmp (pods get a private /tmp), as tests/beads
wires them on the offline API server. The kit's beads suite runs through a wrapper that
does what gc does around a store: one city, each scope initialized before its first op.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import orjson
import pytest
from helpers import Completed, Provider, executable, wait_for
from realkube_support import Cluster, ControllerNamespace, controller_namespace, provider_env
from test_realkube_least_privilege import can_i, without

from gc_beads_k8s.naming import runner_pod
from gc_beads_k8s.scope_init import registry_name
from protocol.conformance.catalog import all_specs
from protocol.conformance.context import Options
from protocol.conformance.model import Status
from protocol.conformance.session import Run, run

pytestmark = pytest.mark.realkube

FAKE_BD = Path(__file__).resolve().parents[1] / "doubles" / "fake_bd.py"
#: Pods have a private /tmp: what the runner pod reads (the fake bd, the fake Dolt
#: server) lives here, readable and writable by the pod's uid 1000.
SHARED = Path("/var/tmp")
BEADS_CODES = sorted(spec.code for spec in all_specs() if spec.suite == "beads")
#: gc's lifecycle around the kit's fresh stores: the kit gives each case a new store
#: root (and names it the city); gc runs one city and inits each scope before its
#: first store op. Each scope gets its own database, as gc's rigs get their own prefix.
KIT_WRAPPER = """#!/bin/sh
export GC_CITY="$BEADS_TEST_CITY" GC_CITY_PATH="$BEADS_TEST_CITY"
root="$GC_STORE_ROOT"
if [ -n "$root" ] && [ ! -e "$root/.scope-initialized" ]; then
  db="kit_$(basename "$root" | tr -c 'A-Za-z0-9_\\n' _)"
  {exe} init "$root" "${GC_BEADS_PREFIX:-gc}" "$db" >/dev/null || exit 1
  : > "$root/.scope-initialized"
fi
exec {exe} "$@"
"""


class City(NamedTuple):
    """A city whose runner pod lives in the controller's namespace."""

    root: Path
    provider: Provider
    ctl: ControllerNamespace

    @property
    def pod(self) -> str:
        return runner_pod(str(self.root))

    def scope_env(self, root: Path, prefix: str) -> dict[str, str]:
        return {"GC_STORE_ROOT": str(root), "GC_STORE_SCOPE": "city" if root == self.root else "rig",
                "GC_BEADS_PREFIX": prefix, "GC_DOLT_HOST": "", "GC_DOLT_PORT": "", "BEADS_DIR": ""}

    def run(self, op: str, *args: str, scope: Path | None = None, prefix: str = "",
            stdin: bytes = b"", timeout: float = 120) -> Completed:
        env = self.scope_env(scope, prefix) if scope is not None else {}
        return self.provider.run(op, *args, stdin=stdin, env=env, timeout=timeout)


def make_city(ctl: ControllerNamespace, base: Path, tmp: Path) -> City:
    """A city in `base` (under /var/tmp) with the fake bd and a fake Dolt server."""
    base.chmod(0o755)
    fake_bd = base / "fake_bd.py"
    shutil.copyfile(FAKE_BD, fake_bd)
    dolt_root = base / "dolt"
    port = str(20000 + uuid.uuid4().int % 20000)
    (dolt_root / f"fake-dolt_{port}").mkdir(parents=True)
    for path in (dolt_root, dolt_root / f"fake-dolt_{port}"):
        path.chmod(0o777)  # the runner pod's uid 1000 writes the databases
    root = base / "city"
    root.mkdir()
    env = {
        **provider_env(ctl.kubeconfig, ctl.namespace, tmp),
        "GC_BEADS_BD": f"env GC_FAKE_DOLT_ROOT={dolt_root} /usr/bin/python3 {fake_bd}",
        "GC_K8S_DOLT_HOST": "fake-dolt",
        "GC_K8S_DOLT_PORT": port,
        "GC_CITY": str(root),
        "GC_CITY_PATH": str(root),
    }
    return City(root, Provider(executable("gc-beads-k8s"), env), ctl)


@pytest.fixture(scope="module")
def beads_ns(real_kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerNamespace]:
    """A namespace from examples/k8s, the provider authenticated as its gc-controller."""
    yield from controller_namespace(real_kube, tmp_path_factory.mktemp("beads-ns"))


@pytest.fixture(scope="module")
def city(beads_ns: ControllerNamespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    """One started city (its runner pod is shared by the module's tests)."""
    base = Path(tempfile.mkdtemp(prefix="gc-rk-beads-", dir=SHARED))
    made = make_city(beads_ns, base, tmp_path_factory.mktemp("beads-city"))
    try:
        res = made.run("start")
        assert res.rc == 0, res
        yield made
    finally:
        made.run("stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def kit_run(city: City, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The kit's beads suite, once, against the started city."""
    wrapper = tmp_path_factory.mktemp("kit") / "gc-beads-k8s-as-gc"
    wrapper.write_text(KIT_WRAPPER.replace("{exe}", shlex.join(city.provider.argv)))
    wrapper.chmod(0o755)
    env = {**city.provider.env, "BEADS_TEST_CITY": str(city.root)}
    return run(str(wrapper), env, beads=True, options=Options(workers=2))


@pytest.mark.parametrize("code", BEADS_CODES)
def test_kit_beads_case_passes_as_the_least_privilege_controller(kit_run: Run, code: str) -> None:
    verdicts = {row.result.code: row.result for row in kit_run.rows}
    assert verdicts[code].status is Status.PASS, verdicts[code]


def test_store_ops_reach_the_scope_initialized_in_the_runner_pod(city: City) -> None:
    scope = city.root / f"rig-{uuid.uuid4().hex[:6]}"
    scope.mkdir()
    prefix = "r" + scope.name[-6:]
    assert city.run("init", str(scope), prefix).rc == 0
    bead = orjson.loads(city.run("create", scope=scope, prefix=prefix,
                                 stdin=b'{"title":"over the real API server"}').out)
    assert str(bead["id"]).startswith(prefix + "-")
    got = orjson.loads(city.run("get", bead["id"], scope=scope, prefix=prefix).out)
    assert got["title"] == "over the real API server"
    assert city.run("health").rc == 0
    assert city.run("probe").rc == 0


def test_init_records_the_scope_in_a_configmap_the_role_allows(city: City) -> None:
    """A recreated runner pod re-inits its scopes from this record (scope_init.heal)."""
    scope = city.root / f"rig-{uuid.uuid4().hex[:6]}"
    scope.mkdir()
    assert city.run("init", str(scope), "rec").rc == 0
    data = orjson.loads(city.ctl.cluster.ok("-n", city.ctl.namespace, "get", "configmap",
                                            registry_name(city.pod), "-o", "json"))["data"]
    assert any(orjson.loads(v)["prefix"] == "rec" for v in data.values())


def test_doctor_passes_as_the_controller_with_the_example_role(city: City) -> None:
    """Every permission doctor asks the real authorizer about is granted by rbac.yaml."""
    res = city.run("doctor", "--json")
    assert res.rc == 0, res.out + res.err
    checks = {c["name"]: c for c in orjson.loads(res.out)["checks"]}
    assert checks["RBAC"]["status"] == "ok", checks["RBAC"]
    assert checks["bd"]["status"] == "ok", checks["bd"]


def pod_exists(ctl: ControllerNamespace, pod: str) -> bool:
    return ctl.admin("get", "pod", pod, "-o", "name").returncode == 0


def test_operator_init_starts_the_runner_pod_and_stop_removes_it(
        beads_ns: ControllerNamespace, tmp_path: Path) -> None:
    """`gc-beads-k8s init` as an operator types it, against a city with no runner pod yet."""
    base = Path(tempfile.mkdtemp(prefix="gc-rk-beads-", dir=SHARED))
    try:
        made = make_city(beads_ns, base, tmp_path)
        assert not pod_exists(beads_ns, made.pod)
        res = made.run("init", "--quiet", str(made.root), "hq", timeout=180)
        assert res.rc == 0, res
        assert pod_exists(beads_ns, made.pod)
        again = made.run("init", str(made.root), "hq")
        assert again.rc == 0, again
        assert orjson.loads(made.run("list", scope=made.root, prefix="hq").out or b"[]") == []
        assert made.run("stop").rc == 0
        assert wait_for(lambda: not pod_exists(beads_ns, made.pod), timeout=60)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fresh_city(controller: ControllerNamespace, tmp_path: Path) -> Iterator[City]:
    """A city with no runner pod yet, in a namespace of its own (a test may cut its Role)."""
    base = Path(tempfile.mkdtemp(prefix="gc-rk-beads-", dir=SHARED))
    made = make_city(controller, base, tmp_path)
    try:
        yield made
    finally:
        controller.cluster.apply(controller.rbac())
        made.run("stop")
        shutil.rmtree(base, ignore_errors=True)


def new_scope(city: City, prefix: str) -> Path:
    scope = city.root / f"{prefix}-{uuid.uuid4().hex[:6]}"
    scope.mkdir()
    assert city.run("init", str(scope), prefix).rc == 0
    return scope


def test_recover_replaces_the_runner_pod_and_scopes_reinit_from_the_configmap(fresh_city: City) -> None:
    """The new pod's /workspace is empty: the first store op re-inits its scope as recorded."""
    scope = new_scope(fresh_city, "rv")
    bead = orjson.loads(fresh_city.run("create", scope=scope, prefix="rv", stdin=b'{"title":"kept"}').out)
    old_uid = fresh_city.ctl.admin("get", "pod", fresh_city.pod, "-o", "jsonpath={.metadata.uid}").stdout
    assert fresh_city.run("recover", timeout=180).rc == 0
    assert fresh_city.ctl.admin("get", "pod", fresh_city.pod, "-o", "jsonpath={.metadata.uid}").stdout != old_uid
    got = fresh_city.run("get", bead["id"], scope=scope, prefix="rv")
    assert got.rc == 0, got
    assert orjson.loads(got.out)["title"] == "kept"


class Cut(NamedTuple):
    verb: str
    resource: str
    op: str  # what fails without the pair
    prepare: str  # "" (no runner pod yet), "scope" (a scope recorded), "recovered"


CUTS = [
    Cut("get", "configmaps", "init", prepare=""),
    Cut("create", "configmaps", "init", prepare=""),
    Cut("patch", "configmaps", "init", prepare="scope"),
    Cut("get", "configmaps", "get", prepare="recovered"),
    Cut("create", "pods", "start", prepare=""),
    Cut("create", "pods/exec", "list", prepare="scope"),
    Cut("delete", "pods", "recover", prepare="scope"),
]


@pytest.mark.parametrize("cut", CUTS, ids=lambda c: f"{c.op}-{c.prepare or 'fresh'}-without-{c.verb}-{c.resource}")
def test_beads_operation_fails_naming_the_permission_cut_from_the_role(fresh_city: City, cut: Cut) -> None:
    ctl = fresh_city.ctl
    scope = new_scope(fresh_city, "lp") if cut.prepare else fresh_city.root
    if cut.prepare == "recovered":
        assert fresh_city.run("recover", timeout=180).rc == 0
    ctl.set_role_rules(without(ctl.role()["rules"], cut.resource, cut.verb))
    assert wait_for(lambda: not can_i(ctl, cut.verb, cut.resource), timeout=30)
    if cut.op == "init":
        res = fresh_city.run("init", str(fresh_city.root / f"s-{uuid.uuid4().hex[:6]}"), "cut")
    elif cut.op == "get":
        res = fresh_city.run("get", "lp-1", scope=scope, prefix="lp")
    elif cut.op == "list":
        res = fresh_city.run("list", scope=scope, prefix="lp")
    else:
        res = fresh_city.run(cut.op, timeout=180)
    assert res.rc == 1, res
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert f'{cut.verb} resource "{cut.resource}"' in res.err, res.err
    assert "RBAC" in res.err, res.err
