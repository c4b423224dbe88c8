"""The runner pod's lifecycle: start (create or adopt), stop, health, probe, recover.

`start` is the cold path: it uses the ``kubernetes`` client (typed 404/409/403)
and watches for Ready against one deadline inside gc's 120 s budget. A
Pending pod with the same spec is waited on, never replaced; a finished,
failed or drifted pod is replaced. `health`, `probe` and `stop` use kubectl
only, so they stay cheap.
"""

from __future__ import annotations

import os
import time
from typing import Any, NamedTuple

from gc_beads_k8s.bd import Target, bd_message, run_bd, scrub
from gc_beads_k8s.config import RunnerConfig
from gc_beads_k8s.manifest import CITY_ANNOTATION, CITY_LABEL, SPEC_HASH, runner_manifest
from gc_beads_k8s.naming import city_id, city_root, runner_pod
from protocol.errors import ExitWith, ProviderError, UsageError
from providers.kube import pods
from providers.kube.errors import KubeConflict, KubeError, KubeNotFound
from providers.kube.kubectl import get_json, kubectl
from providers.kube.settings import KubeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

Obj = dict[str, Any]
START_BUDGET = 110.0


class Runner(NamedTuple):
    pod: str
    city: str
    settings: KubeSettings


def resolve(env: Mapping[str, str] | None = None, fallback_city: str = "") -> Runner:
    env = os.environ if env is None else env
    city = city_root(env, fallback=fallback_city)
    return Runner(runner_pod(city, RunnerConfig.from_env(env).pod_override), city,
                  KubeSettings.from_env(env))


def noop(_message: str) -> None:
    """Progress sink that says nothing (gc's non-interactive calls)."""


def _check_startable(pod: Obj | None, image: str) -> bool:
    if pod is None:
        return False
    reason = pods.fatal_waiting(pod)
    if reason:
        raise ProviderError(f"runner pod cannot start: image {image!r}: {reason}")
    if pods.phase(pod) in ("Failed", "Succeeded"):
        raise ProviderError(f"runner pod exited (phase {pods.phase(pod)}) before it became ready")
    return pods.pod_ready(pod)


def start(
    env: Mapping[str, str] | None = None,
    *,
    progress: Callable[[str], None] = noop,
    on_created: Callable[[Runner], None] | None = None,
    budget: float = START_BUDGET,
    fallback_city: str = "",
) -> Runner:
    """Make the city's runner pod exist and be Ready; returns it.

    ``on_created`` is told when *this call* created the pod (for rollback).
    """
    from providers.kube import client

    env = os.environ if env is None else env
    config = RunnerConfig.from_env(env)
    if not config.image:
        raise UsageError("GC_K8S_IMAGE is required (the runner image with sh and bd)")
    runner = resolve(env, fallback_city)
    deadline = time.monotonic() + budget
    manifest = runner_manifest(runner.pod, runner.city, config)
    want = manifest["metadata"]["annotations"][SPEC_HASH]
    progress(f"checking runner pod {runner.pod} in namespace {runner.settings.namespace}")
    pod = client.find_pod(runner.pod, runner.settings)
    if pod is not None:
        meta = pod.get("metadata") or {}
        served = (meta.get("annotations") or {}).get(CITY_ANNOTATION)
        if served is not None and served != runner.city:
            raise ProviderError(f"runner pod {runner.pod} serves another city ({served!r}), "
                                "left as is; set GC_K8S_BEADS_RUNNER_POD to a pod of its own")
        stale = (meta.get("annotations") or {}).get(SPEC_HASH) != want
        if meta.get("deletionTimestamp") or stale or pods.phase(pod) in ("Failed", "Succeeded",
                                                                       "Unknown"):
            why = "terminating" if meta.get("deletionTimestamp") else (
                "spec changed" if stale else f"phase {pods.phase(pod)}")
            progress(f"replacing runner pod ({why})")
            client.delete_pod(runner.pod, grace_seconds=1, settings=runner.settings)
            client.wait_for_deletion(runner.pod, timeout=max(1.0, deadline - time.monotonic()),
                                     settings=runner.settings)
            pod = None
    if pod is None:
        progress(f"creating runner pod {runner.pod} (image {config.image})")
        try:
            client.create_pod(manifest, runner.settings)
            if on_created:
                on_created(runner)
        except KubeConflict:
            progress("another start created the pod; waiting for it")
    progress("waiting for the runner pod to be ready")
    last = [""]

    def report(current: Obj | None) -> None:
        phase = pods.phase(current) or "absent"
        detail = pods.waiting_reason(current) or phase
        if detail != last[0]:
            last[0] = detail
            progress(f"runner pod: {detail}")

    try:
        client.wait_for_pod(
            runner.pod, lambda p: _check_startable(p, config.image),
            timeout=max(1.0, deadline - time.monotonic()), settings=runner.settings,
            on_change=report, what="Ready",
        )
    except KubeError as error:
        raise ProviderError(scrub(f"runner pod {runner.pod} not ready: {error}")) from error
    progress(f"runner pod {runner.pod} is ready")
    return runner


def stop(env: Mapping[str, str] | None = None) -> None:
    """Delete the runner pod without waiting (PID 1 exits on SIGTERM). Idempotent."""
    runner = resolve(env)
    # By name and by this city's label: a pod of another city (colliding name) stays.
    kubectl(["delete", "pods", "-l", f"{CITY_LABEL}={city_id(runner.city)}", "--field-selector",
             f"metadata.name={runner.pod}", "--ignore-not-found", "--wait=false"],
            settings=runner.settings, action=f"delete pod {runner.pod}")


def delete_and_wait(runner: Runner, timeout: float = 30.0) -> None:
    from providers.kube import client

    if client.delete_pod(runner.pod, grace_seconds=1, settings=runner.settings):
        client.wait_for_deletion(runner.pod, timeout=timeout, settings=runner.settings)


def pod_state(runner: Runner) -> Obj | None:
    try:
        return get_json("pod", runner.pod, settings=runner.settings)
    except KubeNotFound:
        return None


def health(env: Mapping[str, str] | None = None) -> None:
    """Exit 0 when the pod is Running+Ready and ``bd version`` runs in it."""
    env = os.environ if env is None else env
    runner = resolve(env)
    try:
        pod = pod_state(runner)
    except KubeError as error:
        raise ProviderError(scrub(f"cannot check runner pod {runner.pod}: {error}")) from error
    if not pods.pod_ready(pod):
        state = pods.phase(pod) or "absent"
        raise ProviderError(f"runner pod {runner.pod} is not ready (phase: {state})")
    config = RunnerConfig.from_env(env)
    target = Target(runner.pod, config.workspace, config.bd, runner.settings, runner.city)
    result = run_bd(target, ["version"], timeout=20, retry=True)
    if result.rc != 0:
        raise ProviderError(f"bd does not run in runner pod {runner.pod}: {bd_message(result)}")


def probe(env: Mapping[str, str] | None = None) -> None:
    """Exit 0 when the runner pod is Running; exit 2 (not running yet) otherwise."""
    runner = resolve(env)
    try:
        pod = pod_state(runner)
    except KubeError as error:
        raise ProviderError(scrub(f"cannot check runner pod {runner.pod}: {error}")) from error
    if pods.phase(pod) != "Running":
        raise ExitWith(2)


def recover(env: Mapping[str, str] | None = None) -> None:
    """Replace the runner pod; gc then pings every scope, which re-inits lazily."""
    env = os.environ if env is None else env
    runner = resolve(env)
    deadline = time.monotonic() + START_BUDGET
    served = ((pod_state(runner) or {}).get("metadata") or {}).get("annotations") or {}
    if served.get(CITY_ANNOTATION, runner.city) != runner.city:
        raise ProviderError(f"runner pod {runner.pod} serves another city "
                            f"({served[CITY_ANNOTATION]!r}), left as is; set "
                            "GC_K8S_BEADS_RUNNER_POD to a pod of its own")
    delete_and_wait(runner, timeout=30.0)
    start(env, budget=max(5.0, deadline - time.monotonic()))
