"""The runner pod's manifest: hardened, labelled per city, hashed for drift."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from gc_beads_k8s.bd import CITY_ENV, CONTAINER
from gc_beads_k8s.config import RunnerConfig
from gc_beads_k8s.naming import COMPONENT, city_id

Obj = dict[str, Any]
SPEC_HASH = "gc/spec-hash"
CITY_LABEL = "gc/city"
#: The city path in full (the label is a hash of it); store ops check it (`bd.IN_POD`).
CITY_ANNOTATION = "gc/city-path"
#: PID 1: exits at once on SIGTERM (a fast delete) and otherwise just waits.
PID1 = (
    'trap "exit 0" TERM INT HUP\n'
    'mkdir -p "$HOME" 2>/dev/null\n'
    'while :; do sleep 3600 & wait $!; done\n'
)


def selector(city: str) -> str:
    return f"gc/component={COMPONENT},{CITY_LABEL}={city_id(city)}"


def runner_manifest(name: str, city: str, config: RunnerConfig) -> Obj:
    """The pod spec; ``metadata.annotations[gc/spec-hash]`` fingerprints it."""
    ws = config.workspace
    security: Obj = {"seccompProfile": {"type": "RuntimeDefault"}}
    if config.uid is not None:
        security.update(runAsUser=config.uid, runAsNonRoot=config.uid != 0)
    if config.gid is not None:
        security.update(runAsGroup=config.gid, fsGroup=config.gid)
    env: list[Obj] = [
        {"name": "HOME", "value": f"{ws}/.home"},
        {"name": "BEADS_DOLT_AUTO_START", "value": "0"},
        {"name": CITY_ENV, "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.annotations['{CITY_ANNOTATION}']"}}},
    ]
    if config.dolt_secret:
        for var, key in (("BEADS_DOLT_SERVER_USER", "user"), ("BEADS_DOLT_PASSWORD", "password")):
            env.append({"name": var, "valueFrom": {"secretKeyRef": {
                "name": config.dolt_secret, "key": key, "optional": True}}})
    spec: Obj = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 5,
        "securityContext": security,
        "containers": [{
            "name": CONTAINER,
            "image": config.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["/bin/sh", "-c", PID1],
            "workingDir": ws,
            "env": env,
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "privileged": False,
            },
            "resources": {
                "requests": {"cpu": config.cpu_request, "memory": config.mem_request},
                "limits": {"cpu": config.cpu_limit, "memory": config.mem_limit},
            },
            "volumeMounts": [{"name": "workspace", "mountPath": ws}],
        }],
        "volumes": [{"name": "workspace", "emptyDir": {}}],
    }
    if config.pull_secret:
        spec["imagePullSecrets"] = [{"name": config.pull_secret}]
    if config.service_account:
        spec["serviceAccountName"] = config.service_account
    digest = hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/managed-by": "gascity",
                "app.kubernetes.io/component": COMPONENT,
                "gc/component": COMPONENT,
                CITY_LABEL: city_id(city),
            },
            "annotations": {SPEC_HASH: digest, CITY_ANNOTATION: city or ""},
        },
        "spec": spec,
    }
