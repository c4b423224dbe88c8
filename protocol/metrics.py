"""Metrics in the Prometheus text format (0.0.4), written by hand for the hot path.

Every op counts once, at the dispatch level (`protocol.dispatch.run`): ``gc_provider_ops_total``
by executable, op and exit, and its latency in ``gc_provider_op_duration_seconds`` (buckets
that resolve a tick's 10-100 ms). Labels take low-cardinality values only: executable, op
(an op not in the table counts as ``unknown``), exit code, and the reasons and events a
layer names from its own fixed set; never a session name. `label` keeps every value in
``[A-Za-z0-9_.:-]``, so the exposition needs no escaping and reads back by splitting.

A fresh process folds what it counted into one per-user file in ``$GC_METRICS_DIR`` (as
node_exporter's textfile collector reads: ``gc-providers-<uid>.prom``), under an exclusive
lock (``lockf``) and through a temporary file renamed into place: concurrent ops never lose an
increment, a reader never sees a torn file. The directory must be ours (`protocol.privdir`).
Unset, nothing is counted or written. Metrics never fail an op: a problem writing them is
silent there and said by the ``metrics`` subcommand.

A layer adds its own counter with one call, ``metrics.count(name, reason=...)``, after
declaring the family in `FAMILIES`; the ``exe`` label is added when the op's counts are
folded (`flush`). In the resident helper (`providers.kube.transport.helper`) the same calls
count into its long-lived registry (`LockedRegistry`, ``exe`` `HELPER_EXE`), which
``gc-session-k8s metrics`` prints and ``GC_K8S_METRICS_ADDR`` serves; the ops it answers
for a client are folded into that client's file, as if the client had run them.

Only ``os``, ``sys`` and ``time``: hot ops load this.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from threading import Lock

    Labels = tuple[tuple[str, str], ...]  # (name, value) pairs, sorted by name

#: Latency buckets (seconds): fine through a tick's 10-100 ms, coarse above.
BUCKETS = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.075, 0.1, 0.15, 0.25,
           0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

COUNTER = "counter"
HISTOGRAM = "histogram"

OPS = "gc_provider_ops_total"
DURATION = "gc_provider_op_duration_seconds"
RETRIES = "gc_provider_retries_total"
CALLS = "gc_provider_transport_calls_total"
FALLBACKS = "gc_provider_transport_fallbacks_total"
STREAMS = "gc_provider_resident_streams_total"
KEPT_HITS = "gc_provider_kept_answer_hits_total"
HELPER_STARTS = "gc_provider_helper_starts_total"
KUBECTL_SPAWNS = "gc_provider_kubectl_spawns_total"
#: The ``exe`` label of what the resident helper counts for itself (streams, kept answers).
HELPER_EXE = "gc-k8s-helper"

#: Family name -> (type, help). Counters end in ``_total``, durations in ``_seconds``.
FAMILIES: dict[str, tuple[str, str]] = {
    OPS: (COUNTER, "Provider operations run, by executable, op and exit code."),
    DURATION: (HISTOGRAM, "Wall time of one provider operation, from dispatch to exit."),
    RETRIES: (COUNTER, "Kubernetes calls retried under the retry policy, by the error retried."),
    CALLS: (COUNTER, "Pod execs by the transport that ran them (kubectl, direct, helper)."),
    FALLBACKS: (COUNTER, ("Execs a transport could not run and handed to the next one, by "
                          "transport and reason.")),
    STREAMS: (COUNTER, "Resident exec streams of the helper by event (opened, reused, lost)."),
    KEPT_HITS: (COUNTER, "Reads the helper answered from a kept pane listing."),
    HELPER_STARTS: (COUNTER, "Resident exec helpers started."),
    KUBECTL_SPAWNS: (COUNTER, "kubectl processes spawned."),
}

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")


def label(value: object) -> str:
    """A label value from a fixed, escape-free alphabet (anything else becomes ``_``)."""
    text = str(value)[:64]
    return "".join(c if c in _SAFE else "_" for c in text) or "none"


def _le(bound: float) -> str:
    return repr(bound) if bound != int(bound) else f"{bound:.1f}"


class Registry:
    """Counters and histograms of this process (or of a file read back: `parse`)."""

    __slots__ = ("samples",)

    def __init__(self) -> None:
        #: (family, labels) -> [value] for a counter; cumulative bucket counts, sum, count
        #: for a histogram.
        self.samples: dict[tuple[str, Labels], list[float]] = {}

    def count(self, name: str, by: float = 1.0, **labels: object) -> None:
        key = (name, tuple(sorted((k, label(v)) for k, v in labels.items())))
        got = self.samples.get(key)
        if got is None:
            self.samples[key] = [by]
        else:
            got[0] += by

    def observe(self, name: str, seconds: float, **labels: object) -> None:
        key = (name, tuple(sorted((k, label(v)) for k, v in labels.items())))
        got = self.samples.get(key)
        if got is None:
            got = self.samples[key] = [0.0] * (len(BUCKETS) + 2)
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                got[i] += 1
        got[-2] += seconds
        got[-1] += 1

    def labelled(self, exe: str) -> Registry:
        """These samples with ``exe`` on each that has none (what a layer counted)."""
        out = Registry()
        for (name, labels), values in self.samples.items():
            if not any(k == "exe" for k, _ in labels):
                labels = tuple(sorted((*labels, ("exe", label(exe)))))
            got = out.samples.get((name, labels))
            if got is None:
                out.samples[(name, labels)] = list(values)
            else:
                for i, v in enumerate(values):
                    got[i] += v
        return out

    def add(self, other: Registry) -> None:
        """Fold ``other``'s samples into these."""
        for key, values in other.samples.items():
            got = self.samples.get(key)
            if got is None:
                self.samples[key] = list(values)
            elif len(got) == len(values):
                for i, v in enumerate(values):
                    got[i] += v

    def render(self) -> str:
        """The Prometheus text exposition (0.0.4) of every sample, families in a stable order."""
        by_family: dict[str, list[tuple[Labels, list[float]]]] = {}
        for (name, labels), values in self.samples.items():
            by_family.setdefault(name, []).append((labels, values))
        out: list[str] = []
        for name in sorted(by_family):
            kind, text = FAMILIES.get(name, ("untyped", ""))
            if text:
                out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")
            for labels, values in sorted(by_family[name]):
                out.extend(f"{key} {_num(value)}" for key, value in _lines(name, kind, labels, values))
        return "\n".join(out) + "\n" if out else ""

    def lines(self) -> dict[str, float]:
        """Each sample line's text before its value (``name{labels}``) and the value."""
        return {key: value for (name, labels), values in self.samples.items()
                for key, value in _lines(name, FAMILIES.get(name, ("untyped",))[0], labels, values)}


def _lines(name: str, kind: str, labels: Labels, values: list[float]) -> list[tuple[str, float]]:
    pairs = ",".join(f'{k}="{v}"' for k, v in labels)
    if kind != HISTOGRAM:
        return [(f"{name}{{{pairs}}}" if pairs else name, values[0])]
    sep = "," if pairs else ""
    braces = f"{{{pairs}}}" if pairs else ""
    out = [(f'{name}_bucket{{{pairs}{sep}le="{_le(bound)}"}}', n) for bound, n in zip(BUCKETS, values, strict=False)]
    out += [(f'{name}_bucket{{{pairs}{sep}le="+Inf"}}', values[-1]),
            (f"{name}_sum{braces}", values[-2]), (f"{name}_count{braces}", values[-1])]
    return out


def added_in_place(text: str, reg: Registry) -> str | None:
    """``text`` (a file `Registry.render` wrote) with ``reg`` added line by line, or None when
    ``reg`` has a series the text lacks (then the caller parses and renders it whole).

    The quick way for the common fold: a series' lines are found by their text (a C-speed
    search for the first, the next line for each of the others, as `render` writes them),
    and everything else is kept as it is."""
    framed = "\n" + text
    edits: list[tuple[int, int, str]] = []
    for (name, labels), values in reg.samples.items():
        at = -1
        for key, delta in _lines(name, FAMILIES.get(name, ("untyped",))[0], labels, values):
            head = f"\n{key} "
            if not (at >= 0 and framed.startswith(head, at)):
                at = framed.find(head)
                if at < 0:
                    return None
            begin = at + len(head)
            end = framed.find("\n", begin)
            end = len(framed) if end < 0 else end
            try:
                edits.append((begin, end, _num(float(framed[begin:end]) + delta)))
            except ValueError:
                return None
            at = end
    out, last = [], 1
    for begin, end, value in sorted(edits):
        out += [framed[last:begin], value]
        last = end
    out.append(framed[last:])
    return "".join(out)


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


class LockedRegistry(Registry):
    """A registry many threads count into (the helper's): every method under one lock, and
    ``exe`` on each sample that names none."""

    __slots__ = ("exe", "lock")

    def __init__(self, exe: str) -> None:
        import threading

        super().__init__()
        self.exe = exe
        self.lock = threading.Lock()

    def count(self, name: str, by: float = 1.0, **labels: object) -> None:
        labels.setdefault("exe", self.exe)
        with self.lock:
            super().count(name, by, **labels)

    def observe(self, name: str, seconds: float, **labels: object) -> None:
        labels.setdefault("exe", self.exe)
        with self.lock:
            super().observe(name, seconds, **labels)

    def render(self) -> str:
        with self.lock:
            return super().render()


def parse(text: str) -> Registry:
    """Read back what `Registry.render` wrote (our own files only; other lines are skipped)."""
    reg = Registry()
    index = {_le(b): i for i, b in enumerate(BUCKETS)}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        head, _, raw = line.rpartition(" ")
        try:
            value = float(raw)
        except ValueError:
            continue
        name, _, rest = head.partition("{")
        pairs: list[tuple[str, str]] = []
        for item in rest.rstrip("}").split(","):
            k, eq, v = item.partition("=")
            if eq:
                pairs.append((k, v.strip('"')))
        family, slot = name, 0
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and FAMILIES.get(base, ("",))[0] == HISTOGRAM:
                family = base
                le = dict(pairs).get("le", "")
                pairs = [p for p in pairs if p[0] != "le"]
                slot = (index.get(le, -1) if suffix == "_bucket"
                        else -2 if suffix == "_sum" else len(BUCKETS) + 1)
                break
        if slot == -1:
            continue  # the +Inf bucket: the same as _count
        key = (family, tuple(sorted(pairs)))
        if FAMILIES.get(family, ("",))[0] == HISTOGRAM:
            got = reg.samples.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            got[slot] = value
        else:
            reg.samples[key] = [value]
    return reg


# --- the per-user textfile ------------------------------------------------------------------

#: This process's registry: what the op counted, folded into the file at the end.
REGISTRY = Registry()


def keep_long(exe: str) -> LockedRegistry:
    """Make this process's registry a long-lived, thread-safe one (the helper's): its counts
    are never folded into a file, and ``exe`` labels them."""
    global REGISTRY
    if not isinstance(REGISTRY, LockedRegistry):
        kept = LockedRegistry(exe)
        kept.add(REGISTRY)
        REGISTRY = kept
    return REGISTRY


def directory(environ: Mapping[str, str] | None = None) -> str:
    """``$GC_METRICS_DIR``, or "" when metrics are off."""
    return (os.environ if environ is None else environ).get("GC_METRICS_DIR") or ""


def file_name() -> str:
    return f"gc-providers-{os.geteuid()}.prom"


def count(name: str, by: float = 1.0, **labels: object) -> None:
    """Count in this process's registry (the hook a layer calls: one line)."""
    REGISTRY.count(name, by, **labels)


def op_done(exe: str, op: str, code: int, seconds: float, reg: Registry | None = None) -> None:
    """The op counter and its latency (in ``reg``, else this process's): what dispatch records
    for every op."""
    reg = REGISTRY if reg is None else reg
    reg.count(OPS, exe=exe, op=op, exit=code)
    reg.observe(DURATION, seconds, exe=exe, op=op)


def read(where: str) -> Registry:
    """The registry in ``where``'s file (empty when there is none yet)."""
    return parse(read_text(where))


def read_text(where: str, *, checked: bool = False) -> str:
    """``where``'s file as it is ("" when there is none yet), the directory checked first
    (unless the caller just did)."""
    from protocol import privdir

    if not checked:
        privdir.check_dir(where, "metrics directory", others_may_read=True)
    try:
        fd = privdir.open_file(f"{where}/{file_name()}", os.O_RDONLY, 0o600, "metrics file")
    except FileNotFoundError:
        return ""
    try:
        return _read_all(fd).decode("utf-8", "replace")
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def fold(where: str, reg: Registry, timeout: float = 5.0) -> None:
    """Add ``reg`` to ``where``'s file: locked, read, added, written aside and renamed in.

    The file lock is a POSIX record lock, which does not exclude threads of one process, so
    threads (the helper's) also take this process's own lock; a process that never imported
    `threading` has one thread and needs none.
    Raises `protocol.privdir.Untrusted` or `OSError`;
    ``TimeoutError`` when another op holds the lock past ``timeout`` (a stopped process: its
    increments are the ones lost)."""
    if "threading" not in sys.modules:  # one thread (a fresh op): its own lock costs 3 ms
        _fold(where, reg, timeout)
        return
    with _process_lock():
        _fold(where, reg, timeout)


_LOCK: list[Lock] = []


def _process_lock() -> Lock:
    if not _LOCK:
        import threading

        _LOCK.append(threading.Lock())
    return _LOCK[0]


def _fold(where: str, reg: Registry, timeout: float) -> None:
    from protocol import privdir

    privdir.check_dir(where, "metrics directory", others_may_read=True)
    name = file_name()
    lock = privdir.open_file(f"{where}/.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600,
                             "metrics lock file")
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:  # a POSIX record lock: `os` has it, `fcntl` would be one more import
                os.lockf(lock, os.F_TLOCK, 0)
                break
            except (BlockingIOError, PermissionError):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"metrics file {where}/{name}: locked past {timeout:g}s") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
        text = read_text(where, checked=True)
        updated = added_in_place(text, reg) if text else None
        if updated is None:
            total = parse(text)
            total.add(reg)
            updated = total.render()
        # Not ending in .prom: the collector never reads the half-written file.
        aside = f"{where}/.{name}.tmp"
        # 0644: the scraper (node_exporter) may run as its own user; counts hold no secret.
        fd = privdir.open_file(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644,
                               "metrics file")
        try:
            data = updated.encode()
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(aside, f"{where}/{name}")
    finally:
        os.close(lock)  # drops the lock


def flush(environ: Mapping[str, str] | None = None, reg: Registry | None = None, exe: str = "",
          *, own: bool = True) -> None:
    """Fold ``reg`` and (``own``) what this process counted (`count`, labelled ``exe``) into
    the file when metrics are on; never raises (what could not be folded is dropped: metrics
    never fail an op). The helper folds a client's op with ``own`` False: its own counts
    stay in its registry."""
    where = directory(environ)
    if not where:
        return
    taken = Registry()
    if own and REGISTRY.samples and not isinstance(REGISTRY, LockedRegistry):
        mine, REGISTRY.samples = REGISTRY.samples, {}  # counts from now on: the next fold's
        taken.samples = mine
        if exe:
            taken = taken.labelled(exe)
    if reg is not None:
        taken.add(reg)
    if not taken.samples:
        return
    try:
        fold(where, taken)
    except Exception:  # metrics never fail an op; `metrics` says what is wrong
        return
