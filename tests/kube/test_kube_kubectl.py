"""providers.kube.kubectl with fake kubectl scripts: retries, exit codes, missing binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.kube.errors import KubectlMissing, KubeNotFound, KubeUnavailable, PodGone
from providers.kube.kubectl import base_argv, kubectl
from providers.kube.pod_exec import exec_in_pod
from providers.kube.settings import KubeSettings


def _fake(tmp_path: Path, body: str) -> KubeSettings:
    script = tmp_path / "kubectl"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return KubeSettings(namespace="ns", context="ctx", kubectl=str(script), request_timeout=3)


def test_argv_carries_timeout_context_and_namespace() -> None:
    settings = KubeSettings(namespace="ns", context="c1", kubectl="kc", request_timeout=7)
    assert base_argv(settings) == ["kc", "--request-timeout=7s", "--context=c1", "-n", "ns"]
    assert base_argv(KubeSettings(), request_timeout=False) == ["kubectl", "-n", "gc"]


def test_settings_come_from_env() -> None:
    s = KubeSettings.from_env({"GC_K8S_NAMESPACE": "x", "GC_K8S_CONTEXT": "c",
                               "GC_KUBECTL": "/k", "GC_K8S_REQUEST_TIMEOUT": "4"})
    assert (s.namespace, s.context, s.kubectl, s.request_timeout) == ("x", "c", "/k", 4.0)
    assert KubeSettings.from_env({}).namespace == "gc"


def test_kubectl_runs_without_garbage_collection_below_a_memory_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _fake(tmp_path, 'echo "GOGC=$GOGC GOMEMLIMIT=$GOMEMLIMIT"')
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    assert kubectl(["get", "pods"], settings=settings).out == b"GOGC=off GOMEMLIMIT=256MiB\n"


def test_a_go_runtime_setting_of_the_user_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _fake(tmp_path, 'echo "GOGC=$GOGC GOMEMLIMIT=$GOMEMLIMIT"')
    monkeypatch.setenv("GOGC", "200")
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    assert kubectl(["get", "pods"], settings=settings).out == b"GOGC=200 GOMEMLIMIT=\n"


def test_transient_failures_are_retried_for_idempotent_calls(tmp_path: Path) -> None:
    count = tmp_path / "count"
    settings = _fake(tmp_path, f"""echo x >> {count}
n=$(wc -l < {count})
if [ "$n" -lt 3 ]; then echo 'Unable to connect to the server: connection refused' >&2; exit 1; fi
echo ok
""")
    assert kubectl(["get", "pods"], settings=settings).out == b"ok\n"
    assert len(count.read_text().splitlines()) == 3


def test_non_idempotent_calls_are_not_retried(tmp_path: Path) -> None:
    count = tmp_path / "count"
    settings = _fake(tmp_path, f"echo x >> {count}; echo 'connection refused' >&2; exit 1\n")
    with pytest.raises(KubeUnavailable):
        kubectl(["create", "-f", "-"], settings=settings, idempotent=False)
    assert len(count.read_text().splitlines()) == 1


def test_not_found_is_not_retried(tmp_path: Path) -> None:
    settings = _fake(tmp_path, "echo 'Error from server (NotFound): pods \"p\" not found' >&2\n"
                     "exit 1\n")
    with pytest.raises(KubeNotFound):
        kubectl(["get", "pod", "p"], settings=settings)


def test_missing_kubectl_is_reported(tmp_path: Path) -> None:
    settings = KubeSettings(kubectl=str(tmp_path / "nope"))
    with pytest.raises(KubectlMissing, match="GC_KUBECTL"):
        kubectl(["version"], settings=settings)


def test_exec_passes_the_remote_exit_code_and_stderr_through(tmp_path: Path) -> None:
    settings = _fake(tmp_path, "echo out; echo remote-err >&2\n"
                     "echo 'command terminated with exit code 7' >&2; exit 7\n")
    result = exec_in_pod("p", ["false"], settings=settings)
    assert (result.rc, result.out, result.err) == (7, b"out\n", b"remote-err\n")


def test_exec_failure_of_kubectl_itself_raises(tmp_path: Path) -> None:
    settings = _fake(tmp_path, "echo 'Error from server (NotFound): pods \"p\" not found' >&2\n"
                     "exit 1\n")
    with pytest.raises(KubeNotFound):
        exec_in_pod("p", ["true"], settings=settings)


def test_exec_sends_stdin_and_argv_verbatim(tmp_path: Path) -> None:
    settings = _fake(tmp_path, 'for a in "$@"; do printf "[%s]" "$a"; done; cat\n')
    result = exec_in_pod("p", ["echo", "a b", "$(x)"], stdin=b"IN", container="c",
                         settings=settings)
    assert result.rc == 0
    assert result.out == b"[--context=ctx][-n][ns][exec][-i][p][-c][c][--][echo][a b][$(x)]IN"


def test_exec_into_a_missing_pod_raises_the_typed_pod_gone(tmp_path: Path) -> None:
    settings = _fake(tmp_path, "echo 'error: unable to upgrade connection: container not found (\"agent\")' >&2\n"
                     "exit 1\n")
    with pytest.raises(PodGone):
        exec_in_pod("p", ["true"], container="agent", settings=settings)


def test_exec_of_a_command_missing_in_the_pod_is_its_exit_127_not_kubectl_missing(
    tmp_path: Path,
) -> None:
    settings = _fake(tmp_path, "echo 'exec: \"bd\": executable file not found in $PATH' >&2\n"
                     "echo 'command terminated with exit code 127' >&2; exit 127\n")
    result = exec_in_pod("p", ["bd", "version"], settings=settings)
    assert result.rc == 127
    assert b"executable file not found" in result.err


def test_a_write_exec_is_retried_only_when_the_api_refused_it_before_it_started(
    tmp_path: Path,
) -> None:
    count = tmp_path / "count"
    refused = _fake(tmp_path, f"echo x >> {count}\n"
                    "echo 'Error from server (ServiceUnavailable): the server is currently unable to"
                    " handle the request' >&2; exit 1\n")
    with pytest.raises(KubeUnavailable):
        exec_in_pod("p", ["tmux", "send-keys"], settings=refused, retry=False)
    assert count.read_text().count("x") == 4  # first try + every pause of the one policy
    count.unlink()
    dropped = _fake(tmp_path, f"echo x >> {count}\n"
                    "echo 'error: unexpected EOF' >&2; exit 1\n")
    with pytest.raises(KubeUnavailable):
        exec_in_pod("p", ["tmux", "send-keys"], settings=dropped, retry=False)
    assert count.read_text().count("x") == 1  # may have run: never sent twice
