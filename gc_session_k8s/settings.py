"""The operator's ``GC_K8S_*`` settings, read from the environment (upstream names and defaults).

Empty values count as unset, as in the upstream script. Per-session facts
(work dir, city path) arrive only in `start`'s payload; everything a hot
operation needs (namespace, context, city scope) comes from here.
"""

from __future__ import annotations

import os

from protocol import settings as s
from protocol.settings import Setting
from providers.kube import settings as kube
from providers.kube.settings import KubeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

CITY = Setting("GC_K8S_CITY", "city scope in pod names and labels, for cities sharing a namespace")
CPU_REQUEST = Setting("GC_K8S_CPU_REQUEST", "agent container CPU request", default="500m")
MEM_REQUEST = Setting("GC_K8S_MEM_REQUEST", "agent container memory request", default="1Gi")
CPU_LIMIT = Setting("GC_K8S_CPU_LIMIT", "agent container CPU limit", default="2")
MEM_LIMIT = Setting("GC_K8S_MEM_LIMIT", "agent container memory limit", default="4Gi")
SERVICE_ACCOUNT = Setting("GC_K8S_SERVICE_ACCOUNT", "pod service account",
                          shown="the namespace's default")
RUN_AS_USER = Setting("GC_K8S_RUN_AS_USER", "pod runAsUser", "int", what="(a uid)",
                      shown="the image's user")
MAIL_HOST = Setting("GC_K8S_MCP_MAIL_HOST", "mail host the pods reach",
                    default="mcp-mail.gc.svc.cluster.local")
MAIL_PORT = Setting("GC_K8S_MCP_MAIL_PORT", "mail port the pods reach", "port", default="8765")
#: Single-node clusters whose node shares the controller's disk (k3s, kind with
#: extraMounts, the offline test server): mount work_dir at its own path (hostPath)
#: instead of staging a copy, so the agent edits the real checkout.
WORKDIR_HOSTPATH = Setting("GC_K8S_WORKDIR_HOSTPATH",
                           "1: mount the work dir at its own path (single-node clusters)", "flag",
                           shown="off")
#: The image already holds /workspace (city and work dirs baked in, as upstream's Go
#: provider's GC_K8S_PREBAKED): no emptyDir over it, no init container, no staging.
PREBAKED = Setting("GC_K8S_PREBAKED", "1: the image already holds /workspace; nothing staged", "flag",
                   shown="off")
#: A PersistentVolumeClaim for /workspace (gascity #2718): each session keeps its own
#: directory in it (subPath = pod name) across pod restarts.
WORKSPACE_PVC = Setting("GC_K8S_WORKSPACE_PVC", "PersistentVolumeClaim for /workspace",
                        shown="none, an emptyDir")
#: Put the agent on its own branch gc/<session> at start (see `branches`).
SESSION_BRANCH = Setting("GC_K8S_SESSION_BRANCH", "1: put each agent on its own branch gc/<session>",
                         "flag", shown="off")
#: A pod younger than this that is still coming up is "initializing", never replaced.
#: The tunnel from each pod to the controller's loopback GC_BEADS_API (`gc_session_k8s.ledger`).
LEDGER = Setting("GC_K8S_LEDGER", "1: tunnel a loopback GC_BEADS_API into the pod (bd, python3 in it)",
                 "flag", shown="off")
#: env.tooling: the image's directories holding gc, bd and git (`gc_session_k8s.env`).
TOOLS_PATH = Setting("GC_K8S_TOOLS_PATH", "image dirs holding gc, bd, git (declares env.tooling; start checks)")
#: env.transcripts: gc names them in stop's environment.
TRANSCRIPTS_SRC = Setting("GC_TRANSCRIPTS_SRC", "stop: a directory in the pod copied into GC_TRANSCRIPTS_DEST",
                          shown="unset")
TRANSCRIPTS_DEST = Setting("GC_TRANSCRIPTS_DEST", "stop: where GC_TRANSCRIPTS_SRC arrives, an absolute path",
                           shown="unset")
INIT_GRACE_S = Setting("GC_K8S_INIT_GRACE_S", "seconds a pod may take coming up before it is replaced",
                       "number", default="240", what="of seconds", inclusive=True)

#: gc-session-k8s's settings table (`protocol.settings`): its ``--help``, the checks before
#: each op and the docs' settings tables come from here.
TABLE = s.table(
    kube.IMAGE, kube.NAMESPACE, kube.CONTEXT, CITY, kube.KUBECTL, kube.REQUEST_TIMEOUT,
    kube.RETRY_BACKOFF, CPU_REQUEST, MEM_REQUEST, CPU_LIMIT, MEM_LIMIT, SERVICE_ACCOUNT,
    kube.IMAGE_PULL_SECRET, RUN_AS_USER, kube.DOLT_HOST, kube.DOLT_PORT, MAIL_HOST, MAIL_PORT,
    WORKDIR_HOSTPATH, PREBAKED, WORKSPACE_PVC, SESSION_BRANCH, LEDGER, TOOLS_PATH, TRANSCRIPTS_SRC,
    TRANSCRIPTS_DEST, INIT_GRACE_S, kube.AUDIT_LOG,
    s.METRICS_DIR, kube.TRANSPORT, kube.TRANSPORTS, s.NUDGE_DEBOUNCE_MS, s.START_TIMEOUT_S,
    s.EXEC_STATE_DIR, s.PROVIDER_DEBUG)
#: A pod younger than this that is still coming up is "initializing", never replaced.
DEFAULT_INIT_GRACE_S = float(INIT_GRACE_S.default)


class Settings:
    """Everything the provider reads from its own environment."""

    __slots__ = ("audit_log", "city", "cpu_limit", "cpu_request", "dolt_host", "dolt_port",
                 "environ", "image", "image_pull_secret", "init_grace_s", "kube", "mail_host", "mail_port",
                 "mem_limit", "mem_request", "prebaked", "run_as_user", "service_account",
                 "session_branch", "workdir_hostpath", "workspace_pvc")

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        #: The environment read (the ledger forwarder is started with it).
        self.environ: Mapping[str, str] = env
        self.kube = KubeSettings.from_env(env)
        self.image = kube.IMAGE.text(env)
        self.cpu_request = CPU_REQUEST.text(env)
        self.mem_request = MEM_REQUEST.text(env)
        self.cpu_limit = CPU_LIMIT.text(env)
        self.mem_limit = MEM_LIMIT.text(env)
        self.service_account = SERVICE_ACCOUNT.text(env)
        self.image_pull_secret = kube.IMAGE_PULL_SECRET.text(env)
        self.run_as_user = RUN_AS_USER.text(env)
        self.dolt_host = kube.DOLT_HOST.text(env)
        self.dolt_port = kube.DOLT_PORT.text(env)
        self.mail_host = MAIL_HOST.text(env)
        self.mail_port = MAIL_PORT.text(env)
        #: The operator's city scope: part of pod names and the list-running selector.
        self.city = CITY.text(env)
        self.audit_log = kube.AUDIT_LOG.text(env)
        self.workdir_hostpath = WORKDIR_HOSTPATH.flag(env)
        self.prebaked = PREBAKED.flag(env)
        self.workspace_pvc = WORKSPACE_PVC.text(env)
        self.session_branch = SESSION_BRANCH.flag(env)
        self.init_grace_s = INIT_GRACE_S.number(env)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The one way settings are read (as `KubeSettings.from_env`, `RunnerConfig.from_env`)."""
        return cls(env)

    @property
    def namespace(self) -> str:
        return self.kube.namespace
