"""Settings of the beads runner: `RunnerConfig` and the Dolt target, read from the
environment (empty = unset) through the rows of `gc_beads_k8s.settings`."""

from __future__ import annotations

import os
from typing import NamedTuple

from gc_beads_k8s.settings import (
    BD,
    BEADS_CUSTOM_TYPES,
    CPU_LIMIT,
    CPU_REQUEST,
    CUSTOM_TYPES,
    DOLT_HOST,
    DOLT_PORT,
    DOLT_SECRET,
    MEM_LIMIT,
    MEM_REQUEST,
    RUNNER_GID,
    RUNNER_POD,
    RUNNER_UID,
    SERVICE_ACCOUNT,
    WORKSPACE,
)
from protocol import settings as s
from protocol.errors import UsageError
from providers.kube import settings as kube

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from protocol.settings import Setting

DEFAULT_DOLT_HOST = kube.DOLT_HOST.default
DEFAULT_DOLT_PORT = kube.DOLT_PORT.default
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
        s.check(RUNNER_IDS, env)  # a wrong id is refused, never read as the default
        return cls(
            image=kube.IMAGE.text(env),
            pull_secret=kube.IMAGE_PULL_SECRET.text(env),
            bd=BD.text(env),
            workspace=WORKSPACE.text(env).rstrip("/") or WORKSPACE.default,
            uid=_id(RUNNER_UID, env),
            gid=_id(RUNNER_GID, env),
            cpu_request=CPU_REQUEST.text(env),
            mem_request=MEM_REQUEST.text(env),
            cpu_limit=CPU_LIMIT.text(env),
            mem_limit=MEM_LIMIT.text(env),
            dolt_secret=DOLT_SECRET.text(env),
            pod_override=RUNNER_POD.text(env),
            service_account=SERVICE_ACCOUNT.text(env),
        )


RUNNER_IDS = s.table(RUNNER_UID, RUNNER_GID)


def _id(row: Setting, env: Mapping[str, str]) -> int | None:
    """The id, or None for the image's own (``image``, ``none``)."""
    raw = row.text(env)
    return int(raw) if s.digits(raw) else None


def dolt_target(env: Mapping[str, str] | None = None) -> DoltTarget:
    """The Dolt server for `init`: ``GC_DOLT_*`` (both), else ``GC_K8S_DOLT_*``, else default."""
    env = os.environ if env is None else env
    host, port = env.get(DOLT_HOST.name, ""), env.get(DOLT_PORT.name, "")
    if host and not port:
        raise UsageError("requires both GC_DOLT_HOST and GC_DOLT_PORT when GC_DOLT_HOST is set")
    if host:
        target = DoltTarget(host, port)
    else:
        target = DoltTarget(
            kube.DOLT_HOST.text(env),
            port or env.get(kube.DOLT_PORT.name) or kube.DOLT_PORT.default,
        )
    if not target.port.isdigit() or not 0 < int(target.port) < 65536:
        # `bd init --server-port` is an Int flag: anything else fails inside bd.
        raise UsageError(f"invalid Dolt port {target.port[:20]!r}: want a number from 1 to 65535")
    return target


def custom_types(env: Mapping[str, str] | None = None) -> str:
    """Required types merged with ``GC_K8S_CUSTOM_TYPES`` / ``GC_BEADS_CUSTOM_TYPES``."""
    env = os.environ if env is None else env
    extra = CUSTOM_TYPES.text(env) or BEADS_CUSTOM_TYPES.text(env)
    merged = list(REQUIRED_TYPES)
    for item in extra.split(","):
        name = item.strip()
        if name and name not in merged:
            merged.append(name)
    return ",".join(merged)
