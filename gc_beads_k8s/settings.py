"""gc-beads-k8s's settings table (`protocol.settings`): what it reads from its environment.

Its ``--help``, the checks before each op and the docs' settings tables come from here;
`gc_beads_k8s.config` reads the runner's values through these rows. Plain data."""

from __future__ import annotations

from protocol import settings as s
from protocol.settings import Setting
from providers.kube import settings as kube

BD = Setting("GC_BEADS_BD", "the bd command inside the pod", default="bd")
WORKSPACE = Setting("GC_K8S_BEADS_WORKSPACE", "scope directories' root in the pod", default="/workspace")
RUNNER_UID = Setting("GC_K8S_RUNNER_UID", "runner uid, or 'image' for the image's user", "id",
                     default="1000")
RUNNER_GID = Setting("GC_K8S_RUNNER_GID", "runner gid, or 'image' for the image's group", "id",
                     default="1000")
CPU_REQUEST = Setting("GC_K8S_BEADS_CPU_REQUEST", "runner CPU request", default="100m")
MEM_REQUEST = Setting("GC_K8S_BEADS_MEM_REQUEST", "runner memory request", default="128Mi")
CPU_LIMIT = Setting("GC_K8S_BEADS_CPU_LIMIT", "runner CPU limit", default="500m")
MEM_LIMIT = Setting("GC_K8S_BEADS_MEM_LIMIT", "runner memory limit", default="512Mi")
RUNNER_POD = Setting("GC_K8S_BEADS_RUNNER_POD", "runner pod name", shown="derived from the city path")
SERVICE_ACCOUNT = Setting("GC_K8S_BEADS_SERVICE_ACCOUNT", "runner service account",
                          shown="the namespace's default")
DOLT_SECRET = Setting("GC_K8S_DOLT_SECRET", "secret with the Dolt credentials")
DOLT_HOST = Setting("GC_DOLT_HOST", "Dolt host for init, with GC_DOLT_PORT", shown="GC_K8S_DOLT_HOST")
DOLT_PORT = Setting("GC_DOLT_PORT", "Dolt port for init", "port", shown="GC_K8S_DOLT_PORT")
CUSTOM_TYPES = Setting("GC_K8S_CUSTOM_TYPES", "extra bead types, comma-separated; or GC_BEADS_CUSTOM_TYPES")
BEADS_CUSTOM_TYPES = Setting("GC_BEADS_CUSTOM_TYPES", "same as GC_K8S_CUSTOM_TYPES, read when that is unset")

#: gc-beads-k8s's settings table: its ``--help``, the checks before each op and the docs'
#: settings tables come from here.
TABLE = s.table(
    kube.IMAGE.but(help="runner image with sh and bd; required by start and init"),
    kube.NAMESPACE.but(help="namespace of the runner pod"), kube.CONTEXT, kube.KUBECTL,
    kube.TRANSPORT.but(help="how store ops reach the runner pod: kubectl, direct, helper or auto"),
    kube.REQUEST_TIMEOUT, kube.RETRY_BACKOFF, kube.IMAGE_PULL_SECRET, BD, WORKSPACE, RUNNER_UID,
    RUNNER_GID, CPU_REQUEST, MEM_REQUEST, CPU_LIMIT, MEM_LIMIT, RUNNER_POD, SERVICE_ACCOUNT,
    DOLT_SECRET, DOLT_HOST, DOLT_PORT,
    kube.DOLT_HOST.but(help="Dolt host when GC_DOLT_HOST is unset"),
    kube.DOLT_PORT.but(help="Dolt port when GC_DOLT_PORT is unset"),
    CUSTOM_TYPES, BEADS_CUSTOM_TYPES, kube.AUDIT_LOG, s.METRICS_DIR, kube.TRANSPORTS,
    s.PROVIDER_DEBUG)
