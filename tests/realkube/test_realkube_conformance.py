"""The conformance kit against gc-session-k8s on the real kube-apiserver, the provider
authenticated as the gc-controller ServiceAccount of examples/k8s/rbac.yaml (restricted
namespace): the Role is sufficient for every op the kit drives."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig

import pytest
from realkube_support import ControllerNamespace

pytestmark = [pytest.mark.realkube, pytest.mark.slow]


def kit(ctl: ControllerNamespace, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("gc-provider-conformance", path=sysconfig.get_path("scripts"))
    argv = [exe] if exe else [sys.executable, "-m", "protocol.conformance"]
    return subprocess.run([*argv, ctl.provider.argv[-1], *extra], env=ctl.provider.env,
                          capture_output=True, text=True, timeout=3000, check=False)


def test_required_suites_pass_as_the_least_privilege_controller(controller: ControllerNamespace) -> None:
    res = kit(controller, "--only", "check", "--only", "rpp", "--only", "runtimetest")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert " 0 failed" in res.stdout


def test_killed_and_canceled_starts_recover_as_the_least_privilege_controller(
    controller: ControllerNamespace,
) -> None:
    """A start SIGKILLed mid-way is recycled by the next one; a canceled start rolls back in time."""
    res = kit(controller, "--only", "GC-STRICT-START-005", "--only", "GC-STRICT-CANCEL-001",
              "--only", "GC-STRICT-CANCEL-002")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert " 0 failed" in res.stdout
