"""kubectl stderr → our error tree."""

from __future__ import annotations

from typing import NamedTuple

import orjson
import pytest

from providers.kube.classify import classify
from providers.kube.errors import (
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeInvalid,
    KubeNotFound,
    KubeTimeout,
    KubeUnavailable,
)


class Case(NamedTuple):
    test_id: str
    stderr: str
    expected: type[KubeError]


CASES = [
    Case("not-found", 'Error from server (NotFound): pods "x" not found', KubeNotFound),
    Case("already-exists", 'Error from server (AlreadyExists): pods "x" already exists',
         KubeConflict),
    Case("conflict", "Error from server (Conflict): Operation cannot be fulfilled on pods "
         '"x": the object has been modified', KubeConflict),
    Case("forbidden", 'Error from server (Forbidden): pods "x" is forbidden: User "u" cannot '
         'create resource "pods/exec" in API group "" in the namespace "gc"', KubeForbidden),
    Case("unauthorized", "error: You must be logged in to the server (Unauthorized)",
         KubeForbidden),
    Case("refused", "The connection to the server 127.0.0.1:6443 was refused - did you specify "
         "the right host or port?", KubeUnavailable),
    Case("dial", "Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout",
         KubeUnavailable),
    Case("429", "Error from server (TooManyRequests): the server has received too many requests",
         KubeUnavailable),
    Case("500", "Error from server (InternalError): an error on the server", KubeUnavailable),
    Case("503", "Error from server (ServiceUnavailable): the server is currently unable to "
         "handle the request", KubeUnavailable),
    Case("upgrade", "error: unable to upgrade connection: container not found", KubeUnavailable),
    Case("wait-timeout", "error: timed out waiting for the condition on pods/x", KubeTimeout),
    Case("invalid", 'The Pod "x" is invalid: spec.containers: Required value', KubeInvalid),
    Case("other", "error: something odd", KubeError),
]


@pytest.mark.parametrize(list(Case._fields), CASES, ids=[c.test_id for c in CASES])
def test_kubectl_stderr_maps_to_error_class(test_id: str, stderr: str,
                                            expected: type[KubeError]) -> None:
    error = classify(stderr, action="do thing")
    assert type(error) is expected
    assert str(error).startswith("do thing: ")


def test_forbidden_names_verb_and_resource() -> None:
    error = classify('Error from server (Forbidden): pods "x" is forbidden: User "u" cannot '
                     'create resource "pods/exec" in API group ""', action="exec")
    assert isinstance(error, KubeForbidden)
    assert (error.verb, error.resource) == ("create", "pods/exec")
    assert "grant 'create' on 'pods/exec'" in str(error)


def test_forbidden_subresource_named_apart_is_joined() -> None:
    error = classify('Error from server (Forbidden): pods "x" is forbidden: User "u" cannot '
                     'create resource "pods" with subresource "exec" in API group ""', action="exec")
    assert isinstance(error, KubeForbidden)
    assert error.resource == "pods/exec"


def test_unavailable_is_a_temporary_provider_error() -> None:
    from protocol.errors import ProviderError, TemporaryError

    error = classify("connection refused", action="x")
    assert isinstance(error, TemporaryError) and isinstance(error, ProviderError)


PSA = ('pods "gc-x" is forbidden: violates PodSecurity "restricted:latest": restricted volume types '
       '(volume "workdir" uses restricted volume type "hostPath")')


class Forbidden(NamedTuple):
    test_id: str
    stderr: str
    says: str  # the hint the one line must carry ("" for none)
    verb: str
    resource: str


FORBIDDEN = [
    Forbidden("rbac", 'Error from server (Forbidden): pods "x" is forbidden: User "u" cannot create '
              'resource "pods" in API group "" in the namespace "gc"', "(RBAC: grant 'create' on 'pods'",
              "create", "pods"),
    Forbidden("pod-security", f"Error from server (Forbidden): error when creating \"STDIN\": {PSA}",
              "(Pod Security admission: ", "", ""),
    Forbidden("quota", 'Error from server (Forbidden): pods "x" is forbidden: exceeded quota: one-pod, '
              "requested: pods=1, used: pods=1, limited: pods=1", "", "", ""),
    Forbidden("terminating", "Error from server (Forbidden): pods \"x\" is forbidden: unable to create "
              "new content in namespace gc because it is being terminated", "", "", ""),
]


@pytest.mark.parametrize("case", FORBIDDEN, ids=[c.test_id for c in FORBIDDEN])
def test_forbidden_hint_names_who_refused(case: Forbidden) -> None:
    """Only an RBAC denial (a user who "cannot VERB resource") gets the RBAC hint: Pod Security
    admission, a quota and a terminating namespace are 403s that no role would fix."""
    error = classify(case.stderr, action="create pod x")
    assert isinstance(error, KubeForbidden)
    assert (error.verb, error.resource) == (case.verb, case.resource)
    if case.says:
        assert case.says in str(error)
    if case.test_id != "rbac":
        assert "RBAC" not in str(error)


def test_client_403_from_pod_security_is_not_called_rbac() -> None:
    """The client seam (kubernetes ApiException) words a 403 the same way as kubectl's."""
    from kubernetes.client.exceptions import ApiException

    from providers.kube.client import translate

    error = ApiException(status=403, reason="Forbidden")
    error.body = orjson.dumps({"kind": "Status", "code": 403, "reason": "Forbidden", "message": PSA}).decode()
    translated = translate(error, "create pod gc-x")
    assert isinstance(translated, KubeForbidden)
    assert str(translated).startswith(f"create pod gc-x: {PSA} (Pod Security admission: ")
    assert "RBAC" not in str(translated)
