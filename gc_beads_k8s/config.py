"""Settings of the beads runner, read from the environment (empty = unset)."""

from __future__ import annotations

import os
from typing import NamedTuple

from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_DOLT_HOST = "dolt.gc.svc.cluster.local"
DEFAULT_DOLT_PORT = "3307"
#: `doctor.RequiredCustomTypes` upstream; user types are merged, never replace these.
REQUIRED_TYPES = (
    "molecule", "convoy", "message", "event", "gate", "merge-request",
    "agent", "role", "rig", "session", "spec", "convergence",
)


class DoltTarget(NamedTuple):
    host: str
    port: str


class RunnerConfig(NamedTuple):
    """What the runner pod looks like and how bd is called inside it."""

    image: str
    pull_secret: str
    bd: str
    workspace: str
    uid: int | None
    gid: int | None
    cpu_request: str
    mem_request: str
    cpu_limit: str
    mem_limit: str
    dolt_secret: str
    pod_override: str
    service_account: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunnerConfig:
        env = os.environ if env is None else env
        return cls(
            image=_get(env, "GC_K8S_IMAGE"),
            pull_secret=_get(env, "GC_K8S_IMAGE_PULL_SECRET"),
            bd=_get(env, "GC_BEADS_BD", "bd"),
            workspace=_get(env, "GC_K8S_BEADS_WORKSPACE", "/workspace").rstrip("/") or "/workspace",
            uid=_id(env, "GC_K8S_RUNNER_UID", 1000),
            gid=_id(env, "GC_K8S_RUNNER_GID", 1000),
            cpu_request=_get(env, "GC_K8S_BEADS_CPU_REQUEST", "100m"),
            mem_request=_get(env, "GC_K8S_BEADS_MEM_REQUEST", "128Mi"),
            cpu_limit=_get(env, "GC_K8S_BEADS_CPU_LIMIT", "500m"),
            mem_limit=_get(env, "GC_K8S_BEADS_MEM_LIMIT", "512Mi"),
            dolt_secret=_get(env, "GC_K8S_DOLT_SECRET"),
            pod_override=_get(env, "GC_K8S_BEADS_RUNNER_POD"),
            service_account=_get(env, "GC_K8S_BEADS_SERVICE_ACCOUNT"),
        )


def _get(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name) or default


def _id(env: Mapping[str, str], name: str, default: int) -> int | None:
    raw = env.get(name, "")
    if raw == "":
        return default
    if raw.lower() in ("none", "image"):
        return None  # use the image's user
    if not raw.isdigit():
        raise UsageError(f"{name}={raw!r} must be a numeric id, or 'image' for the image's user")
    return int(raw)


def dolt_target(env: Mapping[str, str] | None = None) -> DoltTarget:
    """The Dolt server for `init`: ``GC_DOLT_*`` (both), else ``GC_K8S_DOLT_*``, else default."""
    env = os.environ if env is None else env
    host, port = env.get("GC_DOLT_HOST", ""), env.get("GC_DOLT_PORT", "")
    if host and not port:
        raise UsageError("requires both GC_DOLT_HOST and GC_DOLT_PORT when GC_DOLT_HOST is set")
    if host:
        target = DoltTarget(host, port)
    else:
        target = DoltTarget(
            env.get("GC_K8S_DOLT_HOST") or DEFAULT_DOLT_HOST,
            port or env.get("GC_K8S_DOLT_PORT") or DEFAULT_DOLT_PORT,
        )
    if not target.port.isdigit() or not 0 < int(target.port) < 65536:
        # `bd init --server-port` is an Int flag: anything else fails inside bd.
        raise UsageError(f"invalid Dolt port {target.port[:20]!r}: want a number from 1 to 65535")
    return target


def custom_types(env: Mapping[str, str] | None = None) -> str:
    """Required types merged with ``GC_K8S_CUSTOM_TYPES`` / ``GC_BEADS_CUSTOM_TYPES``."""
    env = os.environ if env is None else env
    extra = env.get("GC_K8S_CUSTOM_TYPES") or env.get("GC_BEADS_CUSTOM_TYPES") or ""
    merged = list(REQUIRED_TYPES)
    for item in extra.split(","):
        name = item.strip()
        if name and name not in merged:
            merged.append(name)
    return ",".join(merged)
