"""Order a parallel run's tests so it ends when its work does, not when one long test does.

xdist's work stealing first hands each worker one contiguous slice of the collection, equal
in count; an idle worker later steals half of the longest queue's tail. A handful of
tests (kit runs of whole suites) take minutes while most take a second, so where they fall
decides the run's length: several long ones in one slice, or one near a slice's end, leave
a worker busy long after the others ran dry. Each slice here gets an equal share of the
known time (`durations.json`, measured by an earlier run) and begins with its long tests;
the short ones keep their collection order, so a module's tests stay together.

`GC_TEST_DURATIONS=<file>` makes the run record what each test took there (the controller
adds setup, call and teardown; merged into what the file holds), to refresh `durations.json`
after tests change.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import orjson
import pytest

DURATIONS = Path(__file__).with_name("durations.json")
#: Seconds assumed for a test the record does not know (new since): slow-marked or not.
UNKNOWN, UNKNOWN_SLOW = 1.0, 30.0
#: A test at least this long opens its slice; shorter ones keep collection order.
LONG = 5.0


def slice_sizes(total: int, workers: int) -> list[int]:
    """How many tests each worker gets first, as xdist's work stealing splits them."""
    sizes = []
    for i in range(workers):
        size = total // (workers - i)
        sizes.append(size)
        total -= size
    return sizes


def arrange(weights: Sequence[float], workers: int) -> list[int]:
    """A permutation of ``range(len(weights))`` whose ``slice_sizes`` slices carry about equal
    weight, each longest first. Greedy, longest first: each test goes to the slice with the
    least weight that still has room."""
    sizes = slice_sizes(len(weights), workers)
    slices: list[list[int]] = [[] for _ in sizes]
    heap = [(0.0, i) for i, size in enumerate(sizes) if size]
    heapq.heapify(heap)
    for index in sorted(range(len(weights)), key=lambda i: -weights[i]):
        load, chosen = heapq.heappop(heap)
        slices[chosen].append(index)
        if len(slices[chosen]) < sizes[chosen]:
            heapq.heappush(heap, (load + weights[index], chosen))
    order: list[int] = []
    for members in slices:
        long = [i for i in members if weights[i] >= LONG]
        short = sorted(i for i in members if weights[i] < LONG)
        order += long + short
    return order


def load_durations(path: Path = DURATIONS) -> dict[str, float]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def weigh(items: Sequence[pytest.Item], known: Mapping[str, float],
          slow: Callable[[pytest.Item], bool]) -> list[float]:
    return [known.get(item.nodeid, UNKNOWN_SLOW if slow(item) else UNKNOWN) for item in items]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)  # set in xdist's workers
    if workers < 2 or getattr(config.option, "dist", "") != "worksteal":
        return
    weights = weigh(items, load_durations(), lambda item: item.get_closest_marker("slow") is not None)
    items[:] = [items[i] for i in arrange(weights, workers)]


#: What each test took in this run (the controller's view), when GC_TEST_DURATIONS is set.
TOOK: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if os.environ.get("GC_TEST_DURATIONS") and not os.environ.get("PYTEST_XDIST_WORKER"):
        TOOK[report.nodeid] = TOOK.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get("GC_TEST_DURATIONS")
    if not out or os.environ.get("PYTEST_XDIST_WORKER") or not TOOK:
        return
    # Merged into what the file holds: make test's passes each record their own tests.
    record = load_durations(Path(out))
    record.update({k: round(v, 1) for k, v in TOOK.items()})
    kept = {k: v for k, v in sorted(record.items()) if v >= 0.5}
    Path(out).write_bytes(orjson.dumps(kept, option=orjson.OPT_INDENT_2) + b"\n")
