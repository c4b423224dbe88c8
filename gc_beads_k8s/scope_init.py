"""`init <dir> <prefix> [db]`: bootstrap one scope's bd database, idempotently.

Each scope (the city, each rig) gets its own directory in the runner pod, its
own ``.beads`` and its own Dolt database (``--database``: the given name, or
the prefix with ``-``/``.`` → ``_``), so bd adopts an existing database's
identity after the pod is recreated. An initialized scope is never re-inited
(a second init, even with another prefix, loses nothing). The database is
marked with the city's id (``gc.city_id``): a database already marked by
another city is refused, so two cities never share one by accident.
"""

from __future__ import annotations

import os
import sys

import orjson

from gc_beads_k8s import runner_pod
from gc_beads_k8s.bd import (
    Target,
    bd_message,
    config_get_args,
    config_set_args,
    init_args,
    run_bd,
    run_in_scope,
)
from gc_beads_k8s.config import RunnerConfig, custom_types, dolt_target
from gc_beads_k8s.naming import city_id, database_name, scope_workdir
from gc_beads_k8s.validate import database, prefix
from protocol.errors import ProviderError
from providers.kube import pods

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

OWNER_KEY = "gc.city_id"
INIT_IF_MISSING = (
    'if [ -f "$BEADS_DIR/metadata.json" ]; then echo existing; exit 0; fi\n'
    '"$@" >&2 && echo created\n'
)


def _config_value(target: Target, key: str) -> str:
    result = run_bd(target, config_get_args(key), retry=True)
    if result.rc != 0:
        return ""
    try:
        data = orjson.loads(result.out.strip() or b"null")
    except orjson.JSONDecodeError:
        return result.text().strip()
    if isinstance(data, dict):
        return str(data.get("value") or "")
    return "" if data is None else str(data)


def _must(target: Target, args: list[str], step: str) -> bytes:
    result = run_bd(target, args)
    if result.rc != 0:
        raise ProviderError(f"{step} failed: {bd_message(result)}")
    return result.out


def init_scope(
    directory: str,
    scope_prefix: str,
    db: str = "",
    *,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = runner_pod.noop,
    on_created: Callable[[runner_pod.Runner], None] | None = None,
) -> str:
    """Initialize the scope rooted at ``directory``; returns "created" or "existing"."""
    env = os.environ if env is None else env
    scope_prefix = prefix(scope_prefix)
    db = database_name(scope_prefix, database(db))
    dolt = dolt_target(env)
    config = RunnerConfig.from_env(env)
    pod = runner_pod.resolve(env, fallback_city=directory)
    if not pods.pod_ready(runner_pod.pod_state(pod)):
        runner_pod.start(env, progress=progress, on_created=on_created, budget=25.0,
                     fallback_city=directory)
    root = env.get("GC_STORE_ROOT") or directory
    target = Target(pod.pod, scope_workdir(root, pod.city, config.workspace), config.bd,
                    pod.settings, pod.city)
    progress(f"initializing scope {target.workdir} (prefix {scope_prefix}, database {db}, "
             f"dolt {dolt.host}:{dolt.port})")
    command = ["sh", "-c", INIT_IF_MISSING, "sh", *config.bd.split(),
               *init_args(scope_prefix, db, dolt.host, dolt.port)]
    result = run_in_scope(target, command, create_dir=True, timeout=25.0)
    if result.rc != 0:
        raise ProviderError(f"bd init failed: {bd_message(result)}")
    state = result.text().strip().rsplit("\n", 1)[-1] or "created"
    owner, mine = _config_value(target, OWNER_KEY), city_id(pod.city)
    if owner and owner != mine:
        raise ProviderError(
            f"database {db!r} already belongs to another city (gc.city_id={owner}); "
            "give this scope its own prefix or database name"
        )
    if not owner:
        _must(target, config_set_args(OWNER_KEY, mine), "marking the database")
    if state == "existing":
        current = _config_value(target, "issue_prefix")
        if current and current != scope_prefix:
            sys.stderr.write(f"note: scope {target.workdir} keeps its prefix {current!r} "
                             f"(asked for {scope_prefix!r}); its beads are unchanged\n")
    _must(target, config_set_args("types.custom", custom_types(env)), "setting custom types")
    raw = _must(target, ["list", "--json", "--limit=1"], "verifying the store")
    try:
        orjson.loads(raw.strip() or b"[]")
    except orjson.JSONDecodeError as error:
        raise ProviderError(f"verifying the store: bd printed invalid JSON ({error})") from None
    record_scope(target, scope_prefix, db, dolt.host, dolt.port)
    progress(f"scope {target.workdir} is ready ({state})")
    return state


def registry_name(pod: str) -> str:
    """The ConfigMap remembering each scope's init parameters (outlives the pod)."""
    return f"{pod}-scopes"[:253]


def _scope_key(workdir: str) -> str:
    import hashlib

    return "scope-" + hashlib.sha256(workdir.encode()).hexdigest()[:16]


def record_scope(target: Target, scope_prefix: str, db: str, host: str, port: str) -> None:
    """Remember how a scope was initialized, so a recreated pod can re-init it alone."""
    from providers.kube.errors import KubeConflict, KubeNotFound
    from providers.kube.kubectl import kubectl

    name = registry_name(target.pod)
    value = orjson.dumps({"workdir": target.workdir, "prefix": scope_prefix, "database": db,
                          "host": host, "port": port}).decode()
    key = _scope_key(target.workdir)
    patch = orjson.dumps({"data": {key: value}}).decode()
    for _ in range(3):
        try:
            kubectl(["patch", "configmap", name, "--type=merge", "-p", patch],
                    settings=target.settings, action=f"patch configmap {name}")
            return
        except KubeNotFound:
            try:
                manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                    "name": name, "labels": {"app.kubernetes.io/managed-by": "gascity",
                                             "gc/component": "beads-scopes"}},
                    "data": {key: value}}
                kubectl(["create", "--validate=false", "-f", "-"], stdin=orjson.dumps(manifest),
                        settings=target.settings, idempotent=False,
                        action=f"create configmap {name}")
                return
            except KubeConflict:
                continue


def heal(target: Target) -> bool:
    """Re-init a scope whose directory vanished with its pod; True when it did."""
    from providers.kube.errors import KubeError, KubeForbidden
    from providers.kube.kubectl import get_json

    try:
        data = get_json("configmap", registry_name(target.pod), settings=target.settings)
    except KubeForbidden as error:
        # Say why the scope stays uninitialized: the Role lacks `get configmaps`.
        raise ProviderError(f"cannot re-init scope {target.workdir}: {error}") from None
    except KubeError:
        return False
    raw = (data.get("data") or {}).get(_scope_key(target.workdir))
    if not raw:
        return False
    entry = orjson.loads(raw)
    config = RunnerConfig.from_env()
    command = ["sh", "-c", INIT_IF_MISSING, "sh", *config.bd.split(),
               *init_args(str(entry["prefix"]), str(entry["database"]), str(entry["host"]),
                          str(entry["port"]))]
    result = run_in_scope(target, command, create_dir=True, timeout=20.0)
    if result.rc != 0:
        return False
    run_bd(target, config_set_args("types.custom", custom_types()))
    return True
