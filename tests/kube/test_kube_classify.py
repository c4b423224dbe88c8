"""kubectl stderr → our error tree."""

from __future__ import annotations

from typing import NamedTuple

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
