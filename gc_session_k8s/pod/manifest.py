"""The pod manifest, built as data (dicts, never text templates).

Compatible with upstream (labels, ``gc-session-name`` annotation, containers
``agent``/``stage``, volume ``ws`` at /workspace unless the image is prebaked, optional secret
``claude-credentials`` at /tmp/claude-secret) and secure by default: no
privilege escalation, all capabilities dropped, the RuntimeDefault seccomp
profile, no service-account token, optional non-root user. Credentials are
mounted as secret *files*; no secret value is ever written into the spec: the
container ``env`` is only the plain part of the session env, chosen by the
one secret rule in `gc_session_k8s.pod.environment` (an allowlist, so a name
nobody thought of stays out).
"""

from __future__ import annotations

from typing import Any

from gc_session_k8s.naming import (
    AGENT_CONTAINER,
    CITY_ANNOTATION,
    NAME_ANNOTATION,
    SESSION_ENV,
    STAGE_CONTAINER,
    labels,
)
from gc_session_k8s.pod import entrypoint
from gc_session_k8s.pod.environment import WORKSPACE, is_plain
from protocol.errors import ProviderError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gc_session_k8s.settings import Settings

Obj = dict[str, Any]
CREDENTIALS_SECRET = "claude-credentials"
#: Deletion is fast (PID 1 exits on TERM); this only bounds a wedged container.
GRACE_SECONDS = 5


def container_security(settings: Settings) -> Obj:
    ctx: Obj = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    ctx.update(user_security(settings))
    return ctx


def user_security(settings: Settings) -> Obj:
    raw = settings.run_as_user
    if not raw:
        return {}
    if not raw.isdigit():
        raise UsageError(f"GC_K8S_RUN_AS_USER must be a numeric uid, not {raw!r}")
    uid = int(raw)
    return {"runAsUser": uid, "runAsNonRoot": uid != 0}


def resources(settings: Settings) -> Obj:
    return {
        "requests": {"cpu": settings.cpu_request, "memory": settings.mem_request},
        "limits": {"cpu": settings.cpu_limit, "memory": settings.mem_limit},
    }


def workspace_volume(settings: Settings) -> Obj:
    if settings.workspace_pvc:
        return {"persistentVolumeClaim": {"claimName": settings.workspace_pvc}}
    return {"emptyDir": {}}


def pod_manifest(*, pod: str, name: str, agent: str, city: str, settings: Settings,
                 work_dir: str, env: dict[str, str], pre_start: tuple[str, ...],
                 staging: bool, host_work_dir: str = "") -> Obj:
    """The Pod object a `start` creates."""
    if not settings.image:
        raise UsageError("GC_K8S_IMAGE is required (the agent image with sh, tmux, ps, tar)")
    for key, value in env.items():  # the secret rule, enforced where the spec is written
        if not is_plain(key, value):
            raise ProviderError(f"refusing to write {key!r} into the pod spec (secret env)")
    ws_mount = {"name": "ws", "mountPath": WORKSPACE}
    if settings.workspace_pvc:
        ws_mount["subPath"] = pod
    # A prebaked image brings its own /workspace: no volume over it.
    ws_mounts = [] if settings.prebaked else [ws_mount]
    ws_volumes = [] if settings.prebaked else [{"name": "ws", **workspace_volume(settings)}]
    agent_container: Obj = {
        "name": AGENT_CONTAINER,
        "image": settings.image,
        "imagePullPolicy": "IfNotPresent",
        "workingDir": work_dir,
        "command": entrypoint.command(pre_start),
        "env": [*({"name": k, "value": v} for k, v in env.items() if k != SESSION_ENV),
                # every exec checks it is in this session's pod (pod_runner.guarded)
                {"name": SESSION_ENV, "valueFrom": {"fieldRef": {
                    "fieldPath": f"metadata.annotations['{NAME_ANNOTATION}']"}}}],
        "resources": resources(settings),
        "securityContext": container_security(settings),
        "volumeMounts": [
            *ws_mounts,
            {"name": "claude-config", "mountPath": entrypoint.SECRET_DIR, "readOnly": True},
        ],
    }
    spec: Obj = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"},
                            **user_security(settings)},
        "containers": [agent_container],
        "volumes": [
            *ws_volumes,
            {"name": "claude-config",
             "secret": {"secretName": CREDENTIALS_SECRET, "optional": True, "defaultMode": 0o400}},
        ],
    }
    if host_work_dir:
        spec["volumes"].append({"name": "workdir",
                                "hostPath": {"path": host_work_dir, "type": "Directory"}})
        agent_container["volumeMounts"].append({"name": "workdir", "mountPath": host_work_dir})
    if settings.service_account:
        spec["serviceAccountName"] = settings.service_account
    if settings.image_pull_secret:
        spec["imagePullSecrets"] = [{"name": settings.image_pull_secret}]
    if staging:
        spec["initContainers"] = [{
            "name": STAGE_CONTAINER,
            "image": settings.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["/bin/sh", "-c", entrypoint.STAGE_SCRIPT],
            "resources": resources(settings),
            "securityContext": container_security(settings),
            "volumeMounts": [ws_mount],
        }]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod,
            "namespace": settings.namespace,
            "labels": labels(name, agent, city),
            "annotations": {NAME_ANNOTATION: name, **({CITY_ANNOTATION: city} if city else {})},
        },
        "spec": spec,
    }
