"""gc-session-k8s hot ops through each exec transport, side by side, on one API server.

Columns (each op run as gc runs it: a fresh process, argv, stdin; median of ``--runs``
calls, all columns in alternation so machine drift weighs on all alike):

* upstream  - upstream's bash script (``--upstream PATH``; omitted without it)
* kubectl   - ours, GC_K8S_TRANSPORT=kubectl (one kubectl exec per op; the default)
* direct    - ours, GC_K8S_TRANSPORT=direct (HTTPS + WebSocket exec from the executable)
* helper    - ours, GC_K8S_TRANSPORT=helper (handed to the resident per-user helper)
* floor     - ``kubectl exec <pod> -- true``: kubectl's own floor for one exec
* python    - ``python -c pass`` under our executable's interpreter: the floor of any op
              written in Python, as gc starts a fresh process per op

Then the same with a kubeconfig whose exec credential plugin sleeps ``--plugin-sleep``
seconds per run (EKS's ``aws eks get-token`` costs ~0.3 s), and a simulated gc tick:
for each of ``--tick-pods`` sessions the op mix gc sends every 30 s (is-running twice,
process-alive, get-last-activity), run serially through the helper, reported as the
number of sessions one controller can drive per 30 s tick.

Without ``--kubeconfig`` an offline API server over HTTPS is started for the run
(protocol.conformance.fakekube, local backend, throwaway CA).

    python benchmarks/k8s_transports.py --upstream /tmp/upstream/gc-session-k8s
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from k8s_hot_ops import alternated_medians, ours, timed  # noqa: E402

#: The ops that exec into the pod (list-running is one `kubectl get`, not an exec).
HOT_OPS: list[tuple[str, list[str], bytes]] = [
    ("is-running", [], b""),
    ("process-alive", [], b"sleep"),
    ("get-meta", ["GC_SESSION_ID"], b""),
    ("get-last-activity", [], b""),
    ("peek", ["20"], b""),
    ("nudge", [], b"hello"),
    ("send-keys", ["Escape"], b""),
]
TICK_MIX: list[tuple[str, bytes]] = [("is-running", b""), ("is-running", b""),
                                     ("process-alive", b"sleep"), ("get-last-activity", b"")]
TRANSPORTS = ("kubectl", "direct", "helper")


def plugin_kubeconfig(base: str, kubeconfig: str, sleep: float) -> str:
    """A copy of ``kubeconfig`` whose user gets its token (the one the kubeconfig had: the
    offline server takes no other) from a plugin that sleeps."""
    import orjson

    with open(kubeconfig, "rb") as f:
        cfg = orjson.loads(f.read())
    token = cfg["users"][0]["user"].get("token") or "fakekube"
    script = os.path.join(base, "slow-plugin")
    credential = orjson.dumps({"apiVersion": "client.authentication.k8s.io/v1",
                               "kind": "ExecCredential", "status": {"token": token}}).decode()
    fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    with os.fdopen(fd, "w") as f:
        f.write(f"#!/bin/sh\nsleep {sleep}\necho '{credential}'\n")
    for user in cfg["users"]:
        user["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                 "command": script, "interactiveMode": "Never"}}
    path = os.path.join(base, "plugin-kubeconfig")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(cfg))
    return path


def helper_ready(env: dict[str, str]) -> None:
    """Start this environment's helper and wait until it answers (not part of any timing)."""
    from providers.kube.transport import helper_client

    runtime = {"GC_K8S_RUNTIME_DIR": env["GC_K8S_RUNTIME_DIR"]}
    subprocess.run([*ours(), "is-running", "warm-up-none"], env=env, capture_output=True,
                   timeout=60, check=False)
    deadline = time.monotonic() + 30
    while helper_client.control("status", runtime) is None:
        if time.monotonic() > deadline:
            raise SystemExit("the helper did not start")
        time.sleep(0.05)


def helper_stop(env: dict[str, str]) -> None:
    from providers.kube.transport import helper_client

    helper_client.control("stop", {"GC_K8S_RUNTIME_DIR": env["GC_K8S_RUNTIME_DIR"]})


def table(env: dict[str, str], name: str, upstream: str | None, runs: int, title: str) -> None:
    envs = {t: {**env, "GC_K8S_TRANSPORT": t} for t in TRANSPORTS}
    helper_ready(envs["helper"])
    floor = [env["GC_KUBECTL"], "-n", env["GC_K8S_NAMESPACE"], "exec", name, "-c", "agent",
             "--", "true"]
    heads = (["upstream"] if upstream else []) + [*TRANSPORTS, "floor", "python"]
    print(f"\n{title}")
    print(f"| op | {' | '.join(h + ' ms' for h in heads)} | direct/up | helper/up |"
          if upstream else f"| op | {' | '.join(h + ' ms' for h in heads)} | helper/kubectl |")
    print("|" + "---|" * (len(heads) + (3 if upstream else 2)))
    for op, args, stdin in HOT_OPS:
        commands = [(["bash", upstream, op, name, *args], env)] if upstream else []
        commands += [([*ours(), op, name, *args], envs[t]) for t in TRANSPORTS]
        commands.append((floor, env))
        commands.append(([*interpreter(), "-c", "pass"], env))
        medians = alternated_medians(commands, stdin, runs, leave_out_failures=True)
        cells = " | ".join(f"{m:.0f}" for m in medians)
        if upstream:
            up, _kc, dr, hp = medians[:4]
            print(f"| {op} | {cells} | {dr / up:.2f} | {hp / up:.2f} |")
        else:
            kc, _dr, hp = medians[:3]
            print(f"| {op} | {cells} | {hp / kc:.2f} |")
    print(f"median of {runs} runs each, columns in alternation")


def interpreter() -> list[str]:
    """The interpreter our executable starts under (its program's shebang), to time a bare
    start (without the launcher's ``-S``: the floor of a script started as any is)."""
    exe = ours()
    if len(exe) > 1:
        return [exe[0]]
    program = exe[0] + ".py" if os.path.exists(exe[0] + ".py") else exe[0]
    with open(program, "rb") as f:
        first = f.readline()
    # The `/bin/sh` launcher: its program runs under this interpreter (the venv's python).
    shebang = first[2:].decode().split() if first.startswith(b"#!") else []
    return shebang if shebang and "python" in shebang[0] else [sys.executable]


def tick(env: dict[str, str], names: list[str], passes: int, every: float = 0.0) -> None:
    """Sessions per 30 s tick through the helper: gc's op mix, serially, fresh processes.

    Beside it, the same op mix where each op is only a bare start of the interpreter our
    executable runs under (``python -c pass``): the ceiling for any Python executable
    that gc starts once per op, whatever the op does. ``every``: seconds from one pass's
    start to the next (gc ticks every 30 s: what the helper keeps between ticks, its pod
    streams, ages as it does under gc); 0 runs the passes back to back."""
    from providers.kube.transport import helper_client

    helper_env = {**env, "GC_K8S_TRANSPORT": "helper"}
    helper_ready(helper_env)
    runtime = {"GC_K8S_RUNTIME_DIR": env["GC_K8S_RUNTIME_DIR"]}
    hits_before = int((helper_client.control("status", runtime) or {}).get("kept_answer_hits", 0))
    bare = [*interpreter(), "-c", "pass"]
    per_session: list[float] = []
    floor: list[float] = []
    for number in range(passes):
        began = time.monotonic()
        mark = len(per_session)
        for name in names:
            total = bare_total = 0.0
            for op, stdin in TICK_MIX:
                seconds, rc = timed([*ours(), op, name], stdin, helper_env)
                if rc != 0:
                    raise SystemExit(f"{op} {name} exited {rc}")
                total += seconds
                bare_total += timed(bare, b"", helper_env)[0]
            per_session.append(total)
            floor.append(bare_total)
        print(f"pass {number + 1}: {statistics.fmean(per_session[mark:]) * 1000:.0f} ms per "
              f"session (bare starts {statistics.fmean(floor[mark:]) * 1000:.0f} ms)", flush=True)
        if every and number + 1 < passes:
            time.sleep(max(0.0, began + every - time.monotonic()))
    hits = int((helper_client.control("status", runtime) or {}).get("kept_answer_hits", 0))
    mean, bare_mean = statistics.fmean(per_session), statistics.fmean(floor)
    spacing = f", a pass every {every:g} s" if every else ""
    print(f"\nsimulated gc tick through the helper ({len(names)} pods x {passes} passes{spacing}, op mix "
          f"is-running x2 + process-alive + get-last-activity): {mean * 1000:.0f} ms per "
          f"session -> {30 / mean:.0f} sessions per 30 s tick; {hits - hits_before} of "
          f"{len(per_session) * len(TICK_MIX)} ops answered from what the helper kept")
    print(f"the same mix of bare interpreter starts ({' '.join(bare)}): "
          f"{bare_mean * 1000:.0f} ms per session -> {30 / bare_mean:.0f} sessions per 30 s "
          "tick at most for any executable in Python")


def start_sessions(env: dict[str, str], names: list[str]) -> None:
    for name in names:
        start = subprocess.run([*ours(), "start", name], input=b'{"command":"sleep 600",'
                               b'"env":{"GC_SESSION_ID":"bench"}}', capture_output=True,
                               env=env, timeout=180, check=False)
        if start.returncode != 0:
            raise SystemExit(f"start {name} failed: {start.stderr.decode()}")


def bench(env: dict[str, str], opts: argparse.Namespace, base: str) -> int:
    stem = f"tb{os.getpid()}"
    names = [f"{stem}-{i}" for i in range(max(1, opts.tick_pods))]
    env = {**env, "GC_K8S_RUNTIME_DIR": os.path.join(base, "run"),
           "GC_K8S_TRANSPORT": "kubectl"}
    start_sessions(env, names)
    try:
        if opts.tick_only:
            tick(env, names, opts.tick_passes, opts.tick_every)
            return 0
        table(env, names[0], opts.upstream, opts.runs,
              "hot ops by transport (offline server over TLS; kubeconfig token)")
        if opts.plugin_sleep > 0:
            helper_stop({**env})  # the next helper resolves the plugin kubeconfig afresh
            penv = {**env, "KUBECONFIG": plugin_kubeconfig(base, env["KUBECONFIG"],
                                                           opts.plugin_sleep),
                    "GC_K8S_RUNTIME_DIR": os.path.join(base, "run-plugin")}
            table(penv, names[0], opts.upstream if opts.upstream_plugin else None,
                  opts.runs, f"the same with an exec credential plugin sleeping "
                  f"{opts.plugin_sleep * 1000:.0f} ms per run")
            helper_stop(penv)
        tick(env, names, opts.tick_passes, opts.tick_every)
    finally:
        helper_stop(env)
        for name in names:
            subprocess.run([*ours(), "stop", name], env=env, capture_output=True, timeout=120,
                           check=False)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--upstream", help="path of upstream's gc-session-k8s bash script")
    parser.add_argument("--upstream-plugin", action="store_true",
                        help="also run upstream in the exec-plugin table (slow)")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--kubeconfig", help="use this cluster instead of the offline server")
    parser.add_argument("--kubectl", default="/usr/bin/kubectl")
    parser.add_argument("--image", default="gc-test/agent:latest")
    parser.add_argument("--plugin-sleep", type=float, default=0.3)
    parser.add_argument("--tick-pods", type=int, default=10)
    parser.add_argument("--tick-passes", type=int, default=3)
    parser.add_argument("--tick-every", type=float, default=0.0,
                        help="seconds between the starts of tick passes (gc: 30)")
    parser.add_argument("--tick-only", action="store_true", help="skip the per-op tables")
    parser.add_argument("--metrics", nargs="?", const="", default=None, metavar="DIR",
                        help="count and log every op (GC_METRICS_DIR made in DIR, e.g. /dev/shm, "
                             "else in the run's temp dir; GC_K8S_AUDIT_LOG beside it)")
    opts = parser.parse_args()
    env = dict(os.environ)
    bindir = tempfile.mkdtemp(prefix="gc-bench-bin-")
    os.symlink(opts.kubectl, os.path.join(bindir, "kubectl"))
    env.update(PATH=f"{bindir}:{env.get('PATH', '')}", GC_KUBECTL=opts.kubectl,
               GC_K8S_IMAGE=opts.image, GC_K8S_NAMESPACE=env.get("GC_K8S_NAMESPACE") or "gc",
               GC_NUDGE_DEBOUNCE_MS="0")
    env.pop("GC_K8S_AUDIT_LOG", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "gc-bench-pycache")
    base = tempfile.mkdtemp(prefix="gctb-", dir="/tmp")  # short: a unix socket lives here
    if opts.metrics is not None:
        where = tempfile.mkdtemp(prefix="gctb-metrics-", dir=opts.metrics or base)
        env.update(GC_METRICS_DIR=where, GC_K8S_AUDIT_LOG=os.path.join(where, "audit.jsonl"))
        print(f"# metrics ({where}) and the audit log on", flush=True)
    try:
        if opts.kubeconfig:
            env["KUBECONFIG"] = opts.kubeconfig
            return bench(env, opts, base)
        from protocol.conformance.fakekube.fixtures import make_env
        from protocol.conformance.fakekube.server import FakeKube

        with FakeKube("local", tls=True) as server:
            server.create_namespace(env["GC_K8S_NAMESPACE"])
            kenv = make_env(server, base)
            for key in ("KUBECONFIG", "HOME", "KUBECACHEDIR", "NO_PROXY", "no_proxy"):
                env[key] = kenv.env[key]
            return bench(env, opts, base)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
        if opts.metrics:
            shutil.rmtree(env["GC_METRICS_DIR"], ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
