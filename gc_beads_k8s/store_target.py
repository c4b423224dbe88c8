"""Resolve which runner pod and which scope directory an operation targets."""

from __future__ import annotations

import os

from gc_beads_k8s.bd import Target
from gc_beads_k8s.config import RunnerConfig
from gc_beads_k8s.naming import city_root, runner_pod, scope_workdir
from providers.kube.settings import KubeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def store_target(env: Mapping[str, str] | None = None, scope_root: str = "") -> Target:
    """The target of a store op: ``GC_STORE_ROOT`` (else ``scope_root``, else the city)."""
    env = os.environ if env is None else env
    config = RunnerConfig.from_env(env)
    root = env.get("GC_STORE_ROOT") or scope_root
    city = city_root(env, fallback=root)
    return Target(
        pod=runner_pod(city, config.pod_override),
        workdir=scope_workdir(root or city, city, config.workspace),
        bd=config.bd,
        settings=KubeSettings.from_env(env),
        city=city,
    )
