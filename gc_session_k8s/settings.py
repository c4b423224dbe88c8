"""The operator's ``GC_K8S_*`` settings, read from the environment (upstream names and defaults).

Empty values count as unset, as in the upstream script. Per-session facts
(work dir, city path) arrive only in `start`'s payload; everything a hot
operation needs (namespace, context, city scope) comes from here.
"""

from __future__ import annotations

import os

from providers.kube.settings import KubeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from protocol.settings_check import Setting

#: A pod younger than this that is still coming up is "initializing", never replaced.
DEFAULT_INIT_GRACE_S = 240.0


def _get(env: Mapping[str, str], key: str, default: str = "") -> str:
    return env.get(key) or default


def _flag(env: Mapping[str, str], key: str) -> bool:
    return _get(env, key).lower() in ("1", "true", "yes", "on")


class Settings:
    """Everything the provider reads from its own environment."""

    __slots__ = ("audit_log", "city", "cpu_limit", "cpu_request", "dolt_host", "dolt_port",
                 "environ", "image", "image_pull_secret", "init_grace_s", "kube", "mail_host",
                 "mail_port", "mem_limit", "mem_request", "prebaked", "run_as_user",
                 "service_account", "session_branch", "workdir_hostpath", "workspace_pvc")

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.kube = KubeSettings.from_env(env)
        #: The environment read (the ledger forwarder is started with it).
        self.environ: Mapping[str, str] = env
        self.image = _get(env, "GC_K8S_IMAGE")
        self.cpu_request = _get(env, "GC_K8S_CPU_REQUEST", "500m")
        self.mem_request = _get(env, "GC_K8S_MEM_REQUEST", "1Gi")
        self.cpu_limit = _get(env, "GC_K8S_CPU_LIMIT", "2")
        self.mem_limit = _get(env, "GC_K8S_MEM_LIMIT", "4Gi")
        self.service_account = _get(env, "GC_K8S_SERVICE_ACCOUNT")
        self.image_pull_secret = _get(env, "GC_K8S_IMAGE_PULL_SECRET")
        self.run_as_user = _get(env, "GC_K8S_RUN_AS_USER")
        self.dolt_host = _get(env, "GC_K8S_DOLT_HOST", "dolt.gc.svc.cluster.local")
        self.dolt_port = _get(env, "GC_K8S_DOLT_PORT", "3307")
        self.mail_host = _get(env, "GC_K8S_MCP_MAIL_HOST", "mcp-mail.gc.svc.cluster.local")
        self.mail_port = _get(env, "GC_K8S_MCP_MAIL_PORT", "8765")
        #: The operator's city scope: part of pod names and the list-running selector.
        self.city = _get(env, "GC_K8S_CITY")
        self.audit_log = _get(env, "GC_K8S_AUDIT_LOG")
        #: Single-node clusters whose node shares the controller's disk (k3s, kind with
        #: extraMounts, the offline test server): mount work_dir at its own path
        #: (hostPath) instead of staging a copy, so the agent edits the real checkout.
        self.workdir_hostpath = _flag(env, "GC_K8S_WORKDIR_HOSTPATH")
        #: The image already holds /workspace (city and work dirs baked in, as upstream's Go
        #: provider's GC_K8S_PREBAKED): no emptyDir over it, no init container, no staging.
        self.prebaked = _flag(env, "GC_K8S_PREBAKED")
        #: A PersistentVolumeClaim for /workspace (gascity #2718): each session keeps its own
        #: directory in it (subPath = pod name) across pod restarts.
        self.workspace_pvc = _get(env, "GC_K8S_WORKSPACE_PVC")
        #: Put the agent on its own branch gc/<session> at start (see `branches`).
        self.session_branch = _flag(env, "GC_K8S_SESSION_BRANCH")
        raw = _get(env, "GC_K8S_INIT_GRACE_S")
        try:
            self.init_grace_s = float(raw) if raw else DEFAULT_INIT_GRACE_S
        except ValueError:
            self.init_grace_s = DEFAULT_INIT_GRACE_S

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The one way settings are read (as `KubeSettings.from_env`, `RunnerConfig.from_env`)."""
        return cls(env)

    @property
    def namespace(self) -> str:
        return self.kube.namespace


def checked_settings() -> dict[str, Setting]:
    """The settings read as numbers, flags or choices: an invalid one is exit 1 before any op runs."""
    from protocol import settings_check as check
    from providers.kube.transport.checked import LoopbackAddress
    from providers.kube.transport.checked import checked_settings as kube_settings

    # GC_K8S_METRICS_ADDR is among kube_settings (a helper gc-beads-k8s starts reads it too);
    # named here as well: it is this executable's documented way to serve its helper's metrics.
    return {**kube_settings(), "GC_K8S_METRICS_ADDR": LoopbackAddress(),
            "GC_NUDGE_DEBOUNCE_MS": check.millis(),
            "GC_START_TIMEOUT_S": check.seconds(), "GC_K8S_INIT_GRACE_S": check.seconds(zero_ok=True),
            "GC_K8S_MCP_MAIL_PORT": check.PORT, "GC_K8S_RUN_AS_USER": check.Setting("int", "(a uid)"),
            "GC_K8S_PREBAKED": check.FLAG, "GC_K8S_WORKDIR_HOSTPATH": check.FLAG,
            "GC_K8S_SESSION_BRANCH": check.FLAG, "GC_K8S_LEDGER": check.FLAG}
