"""Hot operations of gc-session-k8s vs upstream's bash script, side by side.

Both providers drive the same pod on the same API server (our pods carry
upstream's labels and annotation, so its label lookups find them). Each op is
run as gc runs it (a fresh process, stdin bytes, argv) and the median wall
time of ``--runs`` calls is reported with the ratio ours/upstream.

Upstream's script is not part of this repository: save it from
gastownhall/gascity contrib/session-scripts/gc-session-k8s and pass
``--upstream PATH``. Without ``--kubeconfig`` an offline API server
(protocol.conformance.fakekube, local backend; over HTTPS with ``--tls``) is started for
the run. Python bytecode caching is switched on (PYTHONPYCACHEPREFIX), as for
an installed wheel.

    python benchmarks/k8s_hot_ops.py --upstream /tmp/upstream/gc-session-k8s
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: (op, args after the session name, stdin); `list-running` takes a prefix instead.
HOT_OPS: list[tuple[str, list[str], bytes]] = [
    ("is-running", [], b""),
    ("process-alive", [], b"sleep"),
    ("get-meta", ["GC_SESSION_ID"], b""),
    ("set-meta", ["bench-key"], b"v"),
    ("get-last-activity", [], b""),
    ("peek", ["20"], b""),
    ("nudge", [], b"hello"),
    ("send-keys", ["Escape"], b""),
    ("interrupt", [], b""),
    ("clear-scrollback", [], b""),
    ("list-running", [], b""),
]
#: Upstream needs a pod lookup plus an exec for every op but this one: a single
#: ``kubectl get`` there too, so ours can only add Python's start-up to it.
ONE_CALL_UPSTREAM = frozenset({"list-running"})


def ours() -> list[str]:
    found = shutil.which("gc-session-k8s", path=sysconfig.get_path("scripts"))
    # Not installed: the program itself (the launcher needs the installer's first line).
    return [found] if found else [sys.executable, str(REPO / "providers" / "bin" / "gc-session-k8s.py")]


def timed(argv: list[str], stdin: bytes, env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=120,
                          check=False)
    return time.perf_counter() - t0, proc.returncode


def alternated_medians(commands: list[tuple[list[str], dict[str, str]]], stdin: bytes,
                       runs: int, *, leave_out_failures: bool = False) -> list[float]:
    """Median ms of each (argv, env), run in alternation (order flipped every round) so
    that drift in the machine's speed during the run weighs on all alike.

    A failed call ends the run, or with ``leave_out_failures`` (the offline server's
    sandbox can fail to start an exec on an overloaded machine) is reported and left out
    of the median."""
    for argv, env in commands:
        timed(argv, stdin, env)  # warm caches (kubectl discovery, page cache)
    samples: list[list[float]] = [[] for _ in commands]
    for i in range(runs):
        order = range(len(commands)) if i % 2 == 0 else reversed(range(len(commands)))
        for k in order:
            argv, env = commands[k]
            seconds, rc = timed(argv, stdin, env)
            if rc != 0 and not leave_out_failures:
                raise SystemExit(f"{' '.join(argv[-3:])} exited {rc}")
            if rc != 0:
                print(f"  (left out: {' '.join(argv[-4:])} exited {rc})", file=sys.stderr)
                continue
            samples[k].append(seconds * 1000)
    return [statistics.median(s) if s else float("nan") for s in samples]


def costs(env: dict[str, str], runs: int, name: str) -> None:
    """Where a hot op's time goes: kubectl's start-up, an exec with and without the Go
    runtime setting ours uses, Python's start-up and our own share (kubectl replaced by
    /bin/true)."""
    from providers.kube.kubectl import GO_RUNTIME

    kubectl = env["GC_KUBECTL"]
    exec_true = [kubectl, "-n", env["GC_K8S_NAMESPACE"], "exec", name, "-c", "agent", "--", "true"]
    rows = [
        ("kubectl version --client", [kubectl, "version", "--client"], env),
        ("kubectl exec (Go defaults)", exec_true, env),
        ("kubectl exec (" + " ".join(f"{k}={v}" for k, v in GO_RUNTIME.items()) + ")",
         exec_true, {**env, **GO_RUNTIME}),
        ("python -c pass", [sys.executable, "-c", "pass"], env),
        ("ours get-meta, kubectl=/bin/true", [*ours(), "get-meta", name, "GC_SESSION_ID"],
         {**env, "GC_KUBECTL": "/bin/true"}),
    ]
    medians = alternated_medians([(argv, e) for _, argv, e in rows], b"", runs)
    print(f"{'cost':<52}{'median ms':>10}")
    for (label, _, _), ms in zip(rows, medians, strict=True):
        print(f"{label:<52}{ms:>10.1f}")
    print(f"median of {runs} runs each, in alternation")


def bench(env: dict[str, str], upstream: str | None, runs: int, name: str,
          breakdown: bool = False) -> int:
    start = subprocess.run([*ours(), "start", name], input=b'{"command":"sleep 300",'
                           b'"env":{"GC_SESSION_ID":"bench"}}', capture_output=True, env=env,
                           timeout=180, check=False)
    if start.returncode != 0:
        raise SystemExit(f"start failed: {start.stderr.decode()}")
    rows = []
    try:
        if breakdown:
            costs(env, runs, name)
            return 0
        for op, args, stdin in HOT_OPS:
            target = [""] if op == "list-running" else [name, *args]
            commands = [([*ours(), op, *target], env)]
            if upstream:
                commands.append((["bash", upstream, op, *target], env))
            medians = alternated_medians(commands, stdin, runs)
            rows.append((op, medians[0], medians[1] if upstream else float("nan")))
    finally:
        subprocess.run([*ours(), "stop", name], env=env, capture_output=True, timeout=60,
                       check=False)
    print(f"{'op':<20}{'ours ms':>10}{'upstream ms':>14}{'ratio':>8}")
    worst = 0.0
    for op, mine, theirs in rows:
        ratio = mine / theirs if theirs == theirs and theirs else float("nan")
        if op not in ONE_CALL_UPSTREAM and ratio == ratio:
            worst = max(worst, ratio)
        note = "  (one kubectl in both)" if op in ONE_CALL_UPSTREAM else ""
        print(f"{op:<20}{mine:>10.0f}{theirs:>14.0f}{ratio:>8.2f}{note}")
    print(f"median of {runs} runs each, ours and upstream in alternation; worst ratio where "
          f"upstream needs two kubectl calls: {worst:.2f} (target <= 0.60)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", help="path of upstream's gc-session-k8s bash script")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--kubeconfig", help="use this cluster instead of the offline server")
    parser.add_argument("--kubectl", default="/usr/bin/kubectl")
    parser.add_argument("--image", default="gc-test/agent:latest")
    parser.add_argument("--costs", action="store_true",
                        help="instead of the table, where one hot op's time goes")
    parser.add_argument("--tls", action="store_true",
                        help="offline server over HTTPS (throwaway CA), as real clusters serve")
    opts = parser.parse_args()
    name = f"bench-{os.getpid()}"
    env = dict(os.environ)
    # Upstream calls plain `kubectl`; put the same binary first on PATH for both.
    bindir = tempfile.mkdtemp(prefix="gc-bench-bin-")
    os.symlink(opts.kubectl, os.path.join(bindir, "kubectl"))
    env.update(PATH=f"{bindir}:{env.get('PATH', '')}", GC_KUBECTL=opts.kubectl,
               GC_K8S_IMAGE=opts.image, GC_K8S_NAMESPACE=env.get("GC_K8S_NAMESPACE") or "gc",
               GC_NUDGE_DEBOUNCE_MS="0",
               # one kubectl exec per op, as upstream: k8s_transports.py compares the doors
               GC_K8S_TRANSPORT=env.get("GC_K8S_TRANSPORT") or "kubectl")
    env.pop("GC_K8S_AUDIT_LOG", None)
    # An installed wheel has compiled bytecode; a sandbox with PYTHONDONTWRITEBYTECODE=1
    # would recompile every module on every call. Cache it outside the checkout.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "gc-bench-pycache")
    try:
        if opts.kubeconfig:
            env["KUBECONFIG"] = opts.kubeconfig
            return bench(env, opts.upstream, opts.runs, name, opts.costs)
        sys.path.insert(0, str(REPO))
        from protocol.conformance.fakekube.fixtures import make_env
        from protocol.conformance.fakekube.server import FakeKube

        with FakeKube("local", tls=opts.tls) as server:
            server.create_namespace(env["GC_K8S_NAMESPACE"])
            base = tempfile.mkdtemp(prefix="gc-bench-")
            kenv = make_env(server, base)
            for key in ("KUBECONFIG", "HOME", "KUBECACHEDIR", "NO_PROXY", "no_proxy"):
                env[key] = kenv.env[key]
            try:
                return bench(env, opts.upstream, opts.runs, name, opts.costs)
            finally:
                shutil.rmtree(base, ignore_errors=True)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
