"""Kept answers, unit by unit: a pod's generation moves with every mark, an answer serves
only its own generation and only for its time, and a write drops the pod's answers."""

from __future__ import annotations

import itertools
import os
import stat
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from protocol.proc import Result
from providers.kube.transport import answers

POD = ("cluster", "gc", "p")
ASK = ("agent", ("tmux", "-u", "list-panes"), b"")


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "run"
    where.mkdir(mode=0o700)
    monkeypatch.setenv("GC_K8S_RUNTIME_DIR", str(where))
    return where


def test_a_pod_never_marked_has_generation_zero(run_dir: Path) -> None:
    assert answers.generation("gc", "p") == 0


def test_every_mark_moves_the_generation_even_within_one_clock_tick(run_dir: Path) -> None:
    seen: list[int] = []
    for _ in range(51):  # far faster than a file system's timestamp granularity
        generation = answers.generation("gc", "p")
        assert generation is not None
        seen.append(generation)
        answers.mark("gc", "p")
    assert all(a < b for a, b in itertools.pairwise(seen)), seen


def test_a_mark_is_a_private_file_and_touches_only_its_own_pod(run_dir: Path) -> None:
    answers.mark("gc", "p")
    assert answers.generation("gc", "q") == 0
    assert answers.generation("other", "p") == 0
    mode = (run_dir / "gen.gc.p").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_no_runtime_dir_means_no_mark_and_nothing_created(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GC_K8S_RUNTIME_DIR", str(tmp_path / "absent"))
    answers.mark("gc", "p")
    assert not (tmp_path / "absent").exists()


class Unsafe(NamedTuple):
    namespace: str
    pod: str


UNSAFE = [Unsafe("", "p"), Unsafe("gc", ""), Unsafe("../etc", "p"), Unsafe("gc", "a/b"),
          Unsafe("gc", "p\n"), Unsafe("g c", "p")]


@pytest.mark.parametrize("case", UNSAFE, ids=[repr(c) for c in UNSAFE])
def test_a_name_unfit_for_a_file_keeps_no_answer_and_writes_nothing(run_dir: Path,
                                                                    case: Unsafe) -> None:
    answers.mark(case.namespace, case.pod)
    assert answers.generation(case.namespace, case.pod) is None
    assert os.listdir(run_dir) == []


def test_a_planted_link_is_not_followed_by_a_mark(run_dir: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    before = victim.stat().st_mtime_ns
    (run_dir / "gen.gc.p").symlink_to(victim)
    answers.mark("gc", "p")
    assert victim.stat().st_mtime_ns == before


def result(out: bytes) -> Result:
    return Result(0, out, b"")


def test_an_answer_serves_its_generation_within_its_time() -> None:
    kept = answers.Answers()
    kept.put(POD, ASK, 7, result(b"one"), time.monotonic())
    got = kept.get(POD, ASK, 7, 1.0)
    assert got is not None and got.out == b"one"
    assert kept.get(POD, ASK, 8, 1.0) is None  # the pod changed since
    assert kept.get(POD, ("agent", ("other",), b""), 7, 1.0) is None  # another question
    assert kept.get(("cluster", "gc", "q"), ASK, 7, 1.0) is None  # another pod
    assert kept.hits == 1


def test_an_answer_is_as_old_as_its_command_and_expires_by_that() -> None:
    kept = answers.Answers()
    kept.put(POD, ASK, 0, result(b"old"), time.monotonic() - 0.6)
    assert kept.get(POD, ASK, 0, 1.0) is not None
    assert kept.get(POD, ASK, 0, 0.5) is None


def test_forget_drops_every_answer_of_the_pod_only() -> None:
    kept = answers.Answers()
    other = ("cluster", "gc", "q")
    now = time.monotonic()
    kept.put(POD, ASK, 0, result(b"a"), now)
    kept.put(POD, ("agent", ("ps",), b""), 0, result(b"b"), now)
    kept.put(other, ASK, 0, result(b"c"), now)
    kept.forget(POD)
    assert kept.get(POD, ASK, 0, 1.0) is None
    assert kept.get(other, ASK, 0, 1.0) is not None
    assert kept.count() == 1


def test_reap_drops_what_no_request_can_use_any_more() -> None:
    kept = answers.Answers()
    kept.put(POD, ASK, 0, result(b"a"), time.monotonic() - 20)
    kept.put(("cluster", "gc", "q"), ASK, 0, result(b"b"), time.monotonic())
    kept.reap(10)
    assert kept.count() == 1


class Ttl(NamedTuple):
    raw: str
    seconds: float


TTLS = [Ttl("", 1.0), Ttl("250", 0.25), Ttl("0", 0.0), Ttl("-5", 1.0), Ttl("x", 1.0),
        Ttl("999999", 10.0)]


@pytest.mark.parametrize("case", TTLS, ids=[repr(c.raw) for c in TTLS])
def test_the_time_an_answer_serves_comes_from_the_environment(case: Ttl) -> None:
    env = {"GC_K8S_HELPER_CACHE_MS": case.raw} if case.raw else {}
    assert answers.ttl_seconds(env) == case.seconds
