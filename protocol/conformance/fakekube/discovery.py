"""Static discovery and OpenAPI documents, just enough for kubectl and the Python client.

/version says 1.32 so the gcloud kubectl dispatcher (/usr/bin/kubectl) runs
its built-in 1.32. `kubectl apply` needs an OpenAPI v3 document for api/v1
that declares the `fieldValidation` query parameter: then it leaves schema
validation to the server instead of refusing to run.
"""

from __future__ import annotations

from typing import Any

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-fakekube",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _res(name: str, kind: str, singular: str, verbs: list[str], short: list[str] | None = None,
         namespaced: bool = True) -> dict[str, Any]:
    r: dict[str, Any] = {"name": name, "singularName": singular, "namespaced": namespaced,
                         "kind": kind, "verbs": verbs}
    if short:
        r["shortNames"] = short
    if "/" not in name and name != "namespaces":
        r["categories"] = ["all"] if name == "pods" else []
    return r


CORE_V1 = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        _res("configmaps", "ConfigMap", "configmap", _RW, ["cm"]),
        _res("namespaces", "Namespace", "namespace",
             ["create", "delete", "get", "list", "patch", "update", "watch"], ["ns"], namespaced=False),
        _res("pods", "Pod", "pod", _RW, ["po"]),
        _res("pods/exec", "PodExecOptions", "", ["create", "get"]),
        _res("pods/log", "Pod", "", ["get"]),
        _res("pods/status", "Pod", "", ["get", "patch", "update"]),
        _res("secrets", "Secret", "secret", _RW),
    ],
}

API_VERSIONS = {"kind": "APIVersions", "versions": ["v1"]}

AUTHZ_GROUP = {
    "name": "authorization.k8s.io",
    "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}],
    "preferredVersion": {"groupVersion": "authorization.k8s.io/v1", "version": "v1"},
}

API_GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [AUTHZ_GROUP]}

AUTHZ_V1 = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": "authorization.k8s.io/v1",
    "resources": [
        _res("selfsubjectaccessreviews", "SelfSubjectAccessReview", "selfsubjectaccessreview",
             ["create"], namespaced=False),
    ],
}

OPENAPI_HASH = "fakekube1"
OPENAPI_ROOT = {
    "paths": {
        "api/v1": {"serverRelativeURL": f"/openapi/v3/api/v1?hash={OPENAPI_HASH}"},
    }
}


def _operation(kind: str, action: str) -> dict[str, Any]:
    return {
        "operationId": f"{action}{kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": kind},
        "parameters": [
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        ],
        "responses": {"200": {"description": "OK"}},
    }


def _openapi_v1() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for plural, kind, namespaced in (("pods", "Pod", True), ("secrets", "Secret", True),
                                     ("configmaps", "ConfigMap", True),
                                     ("namespaces", "Namespace", False)):
        base = f"/api/v1/namespaces/{{namespace}}/{plural}" if namespaced else f"/api/v1/{plural}"
        paths[base] = {"post": _operation(kind, "post")}
        paths[base + "/{name}"] = {"patch": _operation(kind, "patch"), "put": _operation(kind, "put")}
        schemas[f"io.k8s.api.core.v1.{kind}"] = {
            "type": "object",
            "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": kind}],
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4-fakekube"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


OPENAPI_V1 = _openapi_v1()
