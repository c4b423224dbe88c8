"""``stats`` and ``metrics``: the numbers of an executable's ops, for people.

``<exe> stats [LOG] [--json]`` reads the per-op lines (`protocol.oplog`) of the log the
executable writes and prints, per op, how many ran, the error ratio (exit not 0) and the
50th, 95th and 99th percentile of their duration: for operators without Prometheus.
``<exe> metrics`` prints the registry in ``$GC_METRICS_DIR`` (`protocol.metrics`) in the
Prometheus text format, as a scrape would read it. Both are cold (human) commands, listed in
each executable's table by `observe_operations`; what they need beyond ``os`` is imported only
when one runs.
"""

from __future__ import annotations

import os

from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from protocol.dispatch import Call, Operation


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (not empty)."""
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100), at least 1
    return sorted_values[int(rank) - 1]


def summarize(lines: Iterable[bytes]) -> list[dict[str, object]]:
    """One row per (exe, op) over the op lines among ``lines`` (other lines are skipped)."""
    import orjson

    runs: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for raw in lines:
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(entry, dict) or entry.get("kind") != "op":
            continue
        try:
            key = (str(entry["exe"]), str(entry["op"]))
            run = (float(entry["duration_ms"]), int(entry["exit"]))
        except (KeyError, TypeError, ValueError):
            continue
        runs.setdefault(key, []).append(run)
    rows: list[dict[str, object]] = []
    for (exe, op), got in sorted(runs.items()):
        durations = sorted(d for d, _ in got)
        errors = sum(1 for _, code in got if code != 0)
        rows.append({"exe": exe, "op": op, "count": len(got), "errors": errors,
                     "error_ratio": round(errors / len(got), 4),
                     "p50_ms": percentile(durations, 50), "p95_ms": percentile(durations, 95),
                     "p99_ms": percentile(durations, 99)})
    return rows


def table(rows: list[dict[str, object]]) -> str:
    head = ("op", "count", "errors", "error%", "p50 ms", "p95 ms", "p99 ms")
    several = len({r["exe"] for r in rows}) > 1  # one audit log, both Kubernetes executables
    body = [(f"{r['exe']} {r['op']}" if several else str(r["op"]), str(r["count"]), str(r["errors"]),
             f"{float(r['error_ratio']) * 100:.1f}",  # type: ignore[arg-type]
             *(f"{float(r[k]):.1f}" for k in ("p50_ms", "p95_ms", "p99_ms")))  # type: ignore[arg-type]
            for r in rows]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                     for row in [head, *body])


def stats(call: Call, log_env: str) -> str | None:
    from protocol.human import JSON_FLAG, Command, parse

    command = Command(f"{call.exe} stats", ("?log",), (JSON_FLAG,),
                      f"p50/p95/p99 duration and error ratio per op over the op lines of LOG "
                      f"(default: ${log_env}).")
    parsed = parse(command, list(call.rest))
    if parsed is None:
        return None
    path = parsed.args[0] if parsed.args else os.environ.get(log_env, "")
    if not path:
        raise UsageError(f"no log to read: give its path or set {log_env}")
    try:
        with open(path, "rb") as f:
            rows = summarize(f)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    if "--json" in parsed.flags:
        import orjson

        return orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode()
    return table(rows) if rows else f"no op lines in {path}"


def metrics(call: Call, more: Callable[[], str | None] | None = None) -> str | None:
    """The registry in ``$GC_METRICS_DIR`` with ``more`` (a resident process's own registry,
    in the text format, or None: none runs) added."""
    from protocol import metrics as registry
    from protocol.human import Command, parse

    extra = " and the resident helper's registry" if more else ""
    command = Command(f"{call.exe} metrics", (), (),
                      f"Print the op metrics in $GC_METRICS_DIR{extra} in the Prometheus text format.")
    if parse(command, list(call.rest)) is None:
        return None
    where = registry.directory()
    resident = more() if more else None
    if not where and resident is None:
        raise UsageError("metrics are off: set GC_METRICS_DIR to a directory of yours nobody else can write")
    total = registry.read(where) if where else registry.Registry()
    if resident:
        total.add(registry.parse(resident))
    return total.render()


def observe_operations(log_env: str, more: Callable[[], str | None] | None = None,
                       ) -> dict[str, Operation]:
    """``stats`` (over ``$<log_env>``) and ``metrics`` (``more``: see `metrics`) for an
    executable's table. This module is small on purpose: the table is built at every op's
    import, and the commands' own imports (orjson, the registry) wait until one runs."""
    from protocol.dispatch import Operation

    def stats_op(call: Call) -> str | None:
        return stats(call, log_env)

    def metrics_op(call: Call) -> str | None:
        return metrics(call, more)

    with_more = " with the helper's" if more else ""
    return {
        "stats": Operation(stats_op, (), human=True, observed=False,
                           summary="[LOG] [--json]: p50/p95/p99 and error ratio per op over "
                                   f"the op lines of LOG (default ${log_env})"),
        "metrics": Operation(metrics_op, (), human=True, observed=False,
                             summary=f"print the op metrics in $GC_METRICS_DIR{with_more} "
                                     "(Prometheus text)"),
    }
