"""Cold-path seam over the ``kubernetes`` Python client.

Everything here imports ``kubernetes`` lazily, inside the function that needs
it (0.5-1.2 s per process), so only cold operations (create a pod, wait for
Ready, RBAC checks, doctor) pay for it. Objects go in and come out as plain
JSON dicts (``_preload_content=False``): no pydantic models leak to callers,
and what we send is exactly the manifest we built. Every `ApiException` and
transport failure becomes a `providers.kube.errors.KubeError`, chained.
"""

from __future__ import annotations

import os
import time
from typing import Any, NamedTuple

from protocol.errors import ProviderError
from providers.kube.classify import forbidden
from providers.kube.errors import (
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeInvalid,
    KubeNotFound,
    KubeTimeout,
    KubeUnavailable,
)
from providers.kube.settings import KubeSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

Obj = dict[str, Any]

_CLIENTS: dict[tuple[str, str], Any] = {}


class AccessCheck(NamedTuple):
    """One RBAC permission: ``verb`` on ``resource[/subresource]`` in the namespace."""

    verb: str
    resource: str
    subresource: str = ""
    group: str = ""

    def describe(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{self.verb} {res}"


#: What a plain install (no extras) lacks for the commands that use the Kubernetes client.
INSTALL_K8S = "pip install 'gc-session-providers[k8s]'"


def require() -> None:
    """`KubeError` (exit 1, one line saying what to install) when the client is missing."""
    try:
        import kubernetes  # noqa: F401
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] != "kubernetes":
            raise
        raise KubeError(f"the Kubernetes client is not installed: {INSTALL_K8S}") from None


def api_client(settings: KubeSettings | None = None) -> Any:
    """A configured ``kubernetes.client.ApiClient`` (cached per kubeconfig+context).

    In-cluster config is used when running in a pod with no kubeconfig and
    no context override. Use a separate client for exec streams: the stream
    helper patches the client it is given.
    """
    settings = settings or KubeSettings.from_env()
    key = (settings.kubeconfig, settings.context)
    if key in _CLIENTS:
        return _CLIENTS[key]
    require()
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        from pathlib import Path

        default_config = Path.home() / ".kube" / "config"
        in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not (
            settings.kubeconfig or settings.context or default_config.exists()
        )
        load_incluster: Any = config.load_incluster_config
        load_kube: Any = config.load_kube_config
        if in_cluster:
            load_incluster(client_configuration=configuration)
        else:
            load_kube(
                # The whole list: the client merges it as kubectl does (KUBECONFIG=a:b).
                config_file=settings.kubeconfig or None,
                context=settings.context or None,
                client_configuration=configuration,
            )
    except (config.ConfigException, OSError, TypeError) as error:
        raise KubeError(f"no usable Kubernetes configuration: {error}") from error
    configuration.retries = 0
    made = client.ApiClient(configuration)
    _CLIENTS[key] = made
    return made


def core(settings: KubeSettings | None = None) -> Any:
    made = api_client(settings)
    from kubernetes import client

    return client.CoreV1Api(made)


def _status_message(error: Any) -> str:
    body = getattr(error, "body", None)
    if body:
        import orjson

        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return " ".join(str(body).split())[:300]
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
    return str(getattr(error, "reason", "") or error)


def translate(error: BaseException, action: str) -> KubeError:
    """Map a client exception to our error tree (the caller chains it)."""
    if isinstance(error, KubeError):
        return error
    from kubernetes.client.exceptions import ApiException

    if isinstance(error, ApiException):
        status = int(error.status or 0)
        message = f"{action}: {_status_message(error)}"
        if status == 404:
            return KubeNotFound(message)
        if status == 409:
            return KubeConflict(message)
        if status == 403:
            return forbidden(message)
        if status == 401:
            return KubeForbidden(f"{message} (credentials rejected: check the kubeconfig)")
        if status in (400, 422):
            return KubeInvalid(message)
        if status == 429:  # the server turned the request away: it never ran
            return KubeUnavailable(message, not_started=True)
        if status >= 500 or status == 0:
            return KubeUnavailable(message)
        return KubeError(message)
    text = " ".join(str(error).split())[:300]
    kind = type(error).__name__
    return KubeUnavailable(f"{action}: cannot reach the Kubernetes API ({kind}: {text})")


def call(action: str, fn: Callable[[], Any], *, idempotent: bool = True) -> Any:
    """Run one client call under the one retry policy (`providers.kube.retry`)."""
    from providers.kube.retry import with_retries

    def attempt() -> Any:
        try:
            return fn()
        except ProviderError:  # ours (a KubeError, or a rollback's Interrupted): as is
            raise
        except Exception as error:  # the client raises ApiException and urllib3 errors
            raise translate(error, action) from error

    return with_retries(attempt, idempotent=idempotent)


def _json(response: Any) -> Obj:
    import orjson

    data = orjson.loads(response.data)
    return data if isinstance(data, dict) else {}


# --- pods -------------------------------------------------------------------


def create_pod(manifest: Obj, settings: KubeSettings | None = None) -> Obj:
    """Create a pod; an existing name raises `KubeConflict` (never retried)."""
    settings = settings or KubeSettings.from_env()
    name = manifest.get("metadata", {}).get("name", "?")
    api = core(settings)
    return _json(call(
        f"create pod {name}",
        lambda: api.create_namespaced_pod(
            settings.namespace, manifest, _preload_content=False,
            _request_timeout=settings.request_timeout,
        ),
        idempotent=False,
    ))


def get_pod(name: str, settings: KubeSettings | None = None) -> Obj:
    """The pod as a dict; raises `KubeNotFound` when it does not exist."""
    settings = settings or KubeSettings.from_env()
    api = core(settings)
    return _json(call(
        f"get pod {name}",
        lambda: api.read_namespaced_pod(
            name, settings.namespace, _preload_content=False,
            _request_timeout=settings.request_timeout,
        ),
    ))


def find_pod(name: str, settings: KubeSettings | None = None) -> Obj | None:
    """The pod, or None when it does not exist."""
    try:
        return get_pod(name, settings)
    except KubeNotFound:
        return None


def list_pods(label_selector: str = "", settings: KubeSettings | None = None) -> list[Obj]:
    settings = settings or KubeSettings.from_env()
    api = core(settings)
    data = _json(call(
        f"list pods {label_selector}".rstrip(),
        lambda: api.list_namespaced_pod(
            settings.namespace, label_selector=label_selector, _preload_content=False,
            _request_timeout=settings.request_timeout,
        ),
    ))
    return list(data.get("items") or [])


def delete_pod(
    name: str, *, grace_seconds: int | None = None, uid: str = "", timeout: float | None = None,
    settings: KubeSettings | None = None,
) -> bool:
    """Delete a pod (background); returns False when it was already gone.

    With ``uid`` the server deletes only that pod (a precondition): a pod made since under
    the same name is another's, and its 409 reads as "gone". ``timeout`` bounds one request
    and turns retries off (a rollback inside gc's 2 s before SIGKILL).
    """
    settings = settings or KubeSettings.from_env()
    api = core(settings)
    body: Obj = {"propagationPolicy": "Background"}
    if grace_seconds is not None:
        body["gracePeriodSeconds"] = grace_seconds
    if uid:
        body["preconditions"] = {"uid": uid}

    def attempt() -> Any:
        return api.delete_namespaced_pod(
            name, settings.namespace, body=body, _preload_content=False,
            _request_timeout=settings.request_timeout if timeout is None else timeout,
        )

    try:
        if timeout is None:
            call(f"delete pod {name}", attempt)
        else:
            try:
                attempt()
            except Exception as error:
                raise translate(error, f"delete pod {name}") from error
    except KubeNotFound:
        return False
    except KubeConflict:
        if uid:
            return False
        raise
    return True


def _watch_pod(
    name: str, settings: KubeSettings, resource_version: str, seconds: int
) -> Iterator[tuple[str, Obj]]:
    api = core(settings)
    from kubernetes import watch

    watcher: Any = watch.Watch
    stream = watcher(return_type="object").stream(
        api.list_namespaced_pod,
        settings.namespace,
        field_selector=f"metadata.name={name}",
        resource_version=resource_version,
        timeout_seconds=max(1, seconds),
        _request_timeout=seconds + 5,
    )
    for event in stream:
        yield str(event.get("type", "")), dict(event.get("raw_object") or {})


def wait_for_pod(
    name: str,
    done: Callable[[Obj | None], bool],
    *,
    timeout: float,
    settings: KubeSettings | None = None,
    on_change: Callable[[Obj | None], None] | None = None,
    what: str = "condition",
) -> Obj | None:
    """Watch one pod until ``done(pod)`` is true (``pod`` is None once deleted).

    ``done`` may raise to fail fast (image pull errors, a failed pod). Returns
    the last seen pod; raises `KubeTimeout` after ``timeout`` seconds.
    """
    settings = settings or KubeSettings.from_env()
    deadline = time.monotonic() + timeout
    api = core(settings)
    while True:
        listing = _json(call(
            f"list pod {name}",
            lambda: api.list_namespaced_pod(
                settings.namespace, field_selector=f"metadata.name={name}",
                _preload_content=False, _request_timeout=settings.request_timeout,
            ),
        ))
        items = listing.get("items") or []
        pod: Obj | None = items[0] if items else None
        if on_change:
            on_change(pod)
        if done(pod):
            return pod
        rv = str((listing.get("metadata") or {}).get("resourceVersion") or "")
        left = deadline - time.monotonic()
        if left <= 0:
            raise KubeTimeout(f"pod {name}: {what} not reached after {timeout:.0f}s")
        try:
            for kind, obj in _watch_pod(name, settings, rv, int(left) + 1):
                current = None if kind == "DELETED" else obj
                if kind == "ERROR":
                    break
                if on_change:
                    on_change(current)
                if done(current):
                    return current
                if time.monotonic() > deadline:
                    break
        except ProviderError:
            raise
        except Exception as error:  # a dropped watch: relist and carry on
            mapped = translate(error, f"watch pod {name}")
            if not isinstance(mapped, KubeUnavailable):
                raise mapped from error
            time.sleep(0.2)


def wait_for_deletion(name: str, *, timeout: float, settings: KubeSettings | None = None) -> None:
    wait_for_pod(name, lambda pod: pod is None, timeout=timeout, settings=settings,
                 what="deletion")


# --- secrets and configmaps -------------------------------------------------


def _named(kind: str, verb: str, name: str, settings: KubeSettings, *args: Any,
           idempotent: bool = True) -> Any:
    api = core(settings)
    method = getattr(api, f"{verb}_namespaced_{kind}")
    label = kind.replace("config_map", "configmap")
    return call(
        f"{verb.replace('read', 'get')} {label} {name}".strip(),
        lambda: method(*args, _preload_content=False, _request_timeout=settings.request_timeout),
        idempotent=idempotent,
    )


def create_secret(manifest: Obj, settings: KubeSettings | None = None) -> Obj:
    settings = settings or KubeSettings.from_env()
    name = manifest.get("metadata", {}).get("name", "?")
    return _json(_named("secret", "create", name, settings, settings.namespace, manifest,
                        idempotent=False))


def get_secret(name: str, settings: KubeSettings | None = None) -> Obj:
    settings = settings or KubeSettings.from_env()
    return _json(_named("secret", "read", name, settings, name, settings.namespace))


def delete_secret(name: str, settings: KubeSettings | None = None) -> bool:
    settings = settings or KubeSettings.from_env()
    try:
        _named("secret", "delete", name, settings, name, settings.namespace)
    except KubeNotFound:
        return False
    return True


def create_configmap(manifest: Obj, settings: KubeSettings | None = None) -> Obj:
    settings = settings or KubeSettings.from_env()
    name = manifest.get("metadata", {}).get("name", "?")
    return _json(_named("config_map", "create", name, settings, settings.namespace, manifest,
                        idempotent=False))


def get_configmap(name: str, settings: KubeSettings | None = None) -> Obj:
    settings = settings or KubeSettings.from_env()
    return _json(_named("config_map", "read", name, settings, name, settings.namespace))


def replace_configmap(manifest: Obj, settings: KubeSettings | None = None) -> Obj:
    """Replace (compare-and-swap when ``metadata.resourceVersion`` is set: 409 on a race)."""
    settings = settings or KubeSettings.from_env()
    name = str(manifest.get("metadata", {}).get("name", "?"))
    return _json(_named("config_map", "replace", name, settings, name, settings.namespace,
                        manifest, idempotent=False))


def delete_configmap(name: str, settings: KubeSettings | None = None) -> bool:
    settings = settings or KubeSettings.from_env()
    try:
        _named("config_map", "delete", name, settings, name, settings.namespace)
    except KubeNotFound:
        return False
    return True


def list_configmaps(label_selector: str = "", settings: KubeSettings | None = None) -> list[Obj]:
    settings = settings or KubeSettings.from_env()
    api = core(settings)
    data = _json(call(
        "list configmaps",
        lambda: api.list_namespaced_config_map(
            settings.namespace, label_selector=label_selector, _preload_content=False,
            _request_timeout=settings.request_timeout,
        ),
    ))
    return list(data.get("items") or [])


# --- RBAC -------------------------------------------------------------------


def missing_access(
    checks: Sequence[AccessCheck], settings: KubeSettings | None = None
) -> list[AccessCheck]:
    """The checks this identity is *not* allowed (SelfSubjectAccessReview each).

    Raises `KubeNotFound` when the server does not serve the authorization API.
    """
    settings = settings or KubeSettings.from_env()
    made = api_client(settings)
    from kubernetes import client

    api = client.AuthorizationV1Api(made)
    denied: list[AccessCheck] = []
    for check in checks:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {
                "namespace": settings.namespace,
                "verb": check.verb,
                "group": check.group,
                "resource": check.resource,
                "subresource": check.subresource,
            }},
        }
        review = _json(call(
            f"access review {check.describe()}",
            lambda body=body: api.create_self_subject_access_review(  # type: ignore[misc]
                body, _preload_content=False, _request_timeout=settings.request_timeout
            ),
        ))
        if not (review.get("status") or {}).get("allowed"):
            denied.append(check)
    return denied
