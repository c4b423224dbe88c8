"""Median latency of gc-session-tmux's hot operations, beside their floor.

Each operation is a fresh process, as Gas City runs it. Beside them, in the same
run and interleaved: `python -c pass` with the very interpreter the executable's
shebang names, and one bare `tmux` call. Also the median of `stop` on a
cooperative session (a fresh `sleep` each time).

    python benchmarks/tmux_hot_ops.py [--runs 40] [--markdown] [--metrics [DIR]] [--cpu]

``--metrics [DIR]``: with the op metrics (GC_METRICS_DIR, made in DIR) and the op log
(GC_TMUX_LOG) on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable

#: ``--cpu``: measure CPU time (user + system, the process and the children it waited for)
#: instead of wall time: steadier than wall time on a machine others load.
CPU = False


def timed(argv: list[str], stdin: bytes, env: dict[str, str]) -> float:
    began = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    _pid, _status, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped here; Popen must not wait again
    return usage.ru_utime + usage.ru_stime if CPU else time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--metrics", nargs="?", const="", default=None, metavar="DIR",
                        help="count and log every op; the metrics dir in DIR (e.g. a tmpfs: "
                             "/dev/shm), else in the run's temp dir")
    parser.add_argument("--cpu", action="store_true", help="CPU time instead of wall time")
    args = parser.parse_args()
    global CPU
    CPU = args.cpu

    exe = shutil.which("gc-session-tmux", path=sysconfig.get_path("scripts")) or shutil.which("gc-session-tmux")
    if not exe:
        sys.exit("gc-session-tmux is not installed (pip install .)")
    with open(exe) as f:
        interpreter = f.readline()[2:].strip()
    if "python" not in os.path.basename(interpreter):  # the /bin/sh launcher: the python it starts
        beside = os.path.join(os.path.dirname(exe), "python")
        interpreter = beside if os.access(beside, os.X_OK) else sys.executable

    workdir = tempfile.mkdtemp(prefix="gcbench-")
    sock = os.path.join(workdir, "sock")
    env = {**os.environ, "GC_TMUX_SOCKET": sock, "GC_EXEC_STATE_DIR": workdir}
    env.pop("TMUX", None)
    if args.metrics is not None:
        metrics_dir = tempfile.mkdtemp(prefix="gcbench-metrics-", dir=args.metrics or workdir)
        env.update(GC_METRICS_DIR=metrics_dir, GC_TMUX_LOG=os.path.join(workdir, "ops.log"))

    def run(*argv: str, stdin: bytes = b"") -> None:
        subprocess.run([exe, *argv], input=stdin, env=env, capture_output=True, check=True)

    run("start", "bench", stdin=json.dumps({"work_dir": workdir, "command": "cat"}).encode())
    run("set-meta", "bench", "k", stdin=b"v")

    cases: dict[str, Callable[[], float]] = {
        "python -c pass": lambda: timed([interpreter, "-c", "pass"], b"", env),
        # What pip's console-script wrapper would add: it imports `re`.
        "python -c 'import re'": lambda: timed([interpreter, "-c", "import re"], b"", env),
        "tmux has-session (bare)": lambda: timed(["tmux", "-S", sock, "has-session", "-t", "=bench"], b"", env),
        "is-running": lambda: timed([exe, "is-running", "bench"], b"", env),
        "process-alive": lambda: timed([exe, "process-alive", "bench"], b"cat", env),
        "get-meta": lambda: timed([exe, "get-meta", "bench", "k"], b"", env),
        "get-last-activity": lambda: timed([exe, "get-last-activity", "bench"], b"", env),
        "peek": lambda: timed([exe, "peek", "bench", "50"], b"", env),
        "list-running": lambda: timed([exe, "list-running", ""], b"", env),
        "nudge (debounce 0)": lambda: timed([exe, "nudge", "bench"], b"hello",
                                            {**env, "GC_NUDGE_DEBOUNCE_MS": "0"}),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, case in cases.items():
            samples[name].append(case())

    nudge_default = [timed([exe, "nudge", "bench"], b"hello", env) for _ in range(5)]
    stops = []
    for i in range(min(args.runs, 20)):
        name = f"stop{i}"
        run("start", name, stdin=json.dumps({"work_dir": workdir, "command": "sleep 300"}).encode())
        stops.append(timed([exe, "stop", name], b"", env))
    run("stop", "bench")
    subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True, check=False)
    shutil.rmtree(workdir, ignore_errors=True)
    if args.metrics:
        shutil.rmtree(env["GC_METRICS_DIR"], ignore_errors=True)

    floor = statistics.median(samples["python -c pass"])
    rows = [(name, statistics.median(v)) for name, v in samples.items()]
    rows += [("nudge (default 500 ms debounce)", statistics.median(nudge_default)),
             ("stop (cooperative session)", statistics.median(stops))]
    print(f"# {args.runs} runs each, interleaved; {'CPU' if CPU else 'wall'} time; interpreter {interpreter}"
          + (f"; metrics ({env['GC_METRICS_DIR']}) and op log on" if args.metrics is not None else ""))
    if args.markdown:
        print("| operation | median ms | × python -c pass |\n|---|---:|---:|")
    for name, value in rows:
        ratio = value / floor
        if args.markdown:
            print(f"| {name} | {value * 1000:.1f} | {ratio:.2f} |")
        else:
            print(f"{name:34s} {value * 1000:8.1f} ms  {ratio:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
