"""Where one helper op's time goes: the interpreter's start, our client's own CPU, the
hand-off to the helper, and the offline server's exec underneath it.

On the offline API server over HTTPS (local backend), one session pod, its helper running:

* ``python -c pass``            - wall and CPU of a bare start of our executable's interpreter
* ``is-running`` (helper)       - wall and CPU of the op as gc runs it (CPU: the client only),
                                  once with its answer kept by the helper (the quickest path:
                                  `gc_session_k8s.hot`) and once with nothing kept
* helper round trip, own exec   - in this process: one exec handed to the helper, which opens
                                  an exec of its own for it (an op that is not a hot op)
* helper round trip, stream     - the same for a hot op: run through the pod's resident stream
* helper round trip, kept       - the same answered from what the helper keeps for a second
                                  (`providers.kube.transport.answers`)
* direct exec, pooled           - in this process: one WebSocket exec on an already open TLS
                                  connection (the server's exec with no hand-off)
* TLS connect                   - what the pool saves per exec

    python benchmarks/k8s_helper_breakdown.py --runs 21
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from k8s_hot_ops import ours  # noqa: E402
from k8s_transports import helper_ready, helper_stop, interpreter  # noqa: E402


def child_costs(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall and CPU (user + sys of the child) in ms."""
    walls, cpus = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((usage.ru_utime + usage.ru_stime) * 1000)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(argv)} failed")
    return statistics.median(walls), statistics.median(cpus)


def in_process(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def measure(env: dict[str, str], runs: int) -> None:
    name = "breakdown"
    start = subprocess.run([*ours(), "start", name], input=b'{"command":"sleep 600"}', env=env,
                           capture_output=True, timeout=180, check=False)
    if start.returncode != 0:
        raise SystemExit(f"start failed: {start.stderr.decode()}")
    helper_env = {**env, "GC_K8S_TRANSPORT": "helper"}
    try:
        helper_ready(helper_env)
        wall, cpu = child_costs([*interpreter(), "-c", "pass"], helper_env, runs)
        print(f"python -c pass               wall {wall:5.1f} ms  cpu {cpu:5.1f} ms")
        for keep, title in (("100000", "is-running, kept answer"), ("0", "is-running, none kept")):
            wall, cpu = child_costs([*ours(), "is-running", name],
                                    {**helper_env, "GC_K8S_HELPER_CACHE_MS": keep}, runs)
            print(f"{title:28s} wall {wall:5.1f} ms  cpu {cpu:5.1f} ms (client)")

        os.environ.update(helper_env)
        from providers.kube.settings import KubeSettings
        from providers.kube.transport import direct, helper_client, kubeconfig, tls

        settings = KubeSettings.from_env(dict(os.environ))
        target = kubeconfig.target(settings, dict(os.environ))
        argv = ["tmux", "-u", "list-panes", "-s", "-t", "=main:", "-F", "#{pane_dead}"]
        from providers.kube import audit

        for op, keep, title in (("", "0", "helper round trip, own exec"),
                                ("is-running", "0", "helper round trip, stream"),
                                ("is-running", "1000", "helper round trip, kept")):
            audit.set_operation(op)  # a hot op's name is what makes the helper use a stream
            os.environ["GC_K8S_HELPER_CACHE_MS"] = keep  # sent with each request
            round_trip = in_process(lambda: helper_client.exec_via_helper(
                settings, name, "agent", argv, None, 10, True), runs)
            print(f"{title:28s} {round_trip:5.1f} ms")
        samples = []
        for _ in range(runs):
            conn = tls.connect(target, 10)  # opened outside the timing, as the pool does
            t0 = time.perf_counter()
            direct.exec_once(settings, name, "agent", argv, None, 10, target=target,
                             opener=lambda _t, _timeout, c=conn: c)  # type: ignore[misc]
            samples.append((time.perf_counter() - t0) * 1000)
        print(f"direct exec, pooled          {statistics.median(samples):5.1f} ms")
        print(f"TLS connect                  {in_process(lambda: tls.connect(target, 10).close(), runs):5.1f} ms")
    finally:
        helper_stop(helper_env)
        subprocess.run([*ours(), "stop", name], env=env, capture_output=True, timeout=120,
                       check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--kubectl", default="/usr/bin/kubectl")
    opts = parser.parse_args()
    env = dict(os.environ)
    env.update(GC_KUBECTL=opts.kubectl, GC_K8S_IMAGE="gc-test/agent:latest",
               GC_K8S_NAMESPACE="gc", GC_K8S_TRANSPORT="kubectl")
    env.pop("GC_K8S_AUDIT_LOG", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "gc-bench-pycache")
    base = tempfile.mkdtemp(prefix="gchb-", dir="/tmp")  # short: a unix socket lives here
    try:
        from protocol.conformance.fakekube.fixtures import make_env
        from protocol.conformance.fakekube.server import FakeKube

        with FakeKube("local", tls=True) as server:
            server.create_namespace("gc")
            kenv = make_env(server, base)
            for key in ("KUBECONFIG", "HOME", "KUBECACHEDIR", "NO_PROXY", "no_proxy"):
                env[key] = kenv.env[key]
            env["GC_K8S_RUNTIME_DIR"] = os.path.join(base, "run")
            measure(env, opts.runs)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
