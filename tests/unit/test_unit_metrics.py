"""The metrics core: the hand-written exposition reads back in prometheus_client's parser, the
per-user textfile never loses an increment nor shows a torn file, and it is opt-in."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from protocol import metrics
from protocol.privdir import Untrusted

REPO = Path(__file__).resolve().parents[2]
OPS = ["is-running", "get-meta", "start", "list-running", "nudge", "unknown"]
runs = st.lists(st.tuples(st.sampled_from(OPS), st.sampled_from([0, 1, 2, 75]),
                          st.floats(min_value=0, max_value=120, allow_nan=False)), max_size=40)


def parsed(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``text`` by (name, labels), as prometheus_client reads it."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@given(runs)
@settings(max_examples=60, deadline=None)
def test_the_exposition_reads_back_in_prometheus_clients_parser(ops: list[tuple[str, int, float]]) -> None:
    reg = metrics.Registry()
    for op, code, seconds in ops:
        reg.count(metrics.OPS, exe="gc-session-tmux", op=op, exit=code)
        reg.observe(metrics.DURATION, seconds, exe="gc-session-tmux", op=op)
    text = reg.render()
    samples = parsed(text)
    for op in {o for o, _, _ in ops}:
        labels = (("exe", "gc-session-tmux"), ("op", op))
        for code in {c for o, c, _ in ops if o == op}:
            want = sum(1 for o, c, _ in ops if (o, c) == (op, code))
            key = ("gc_provider_ops_total", (("exe", "gc-session-tmux"), ("exit", str(code)), ("op", op)))
            assert samples[key] == want
        mine = [s for o, _, s in ops if o == op]
        assert samples[("gc_provider_op_duration_seconds_count", labels)] == len(mine)
        assert samples[("gc_provider_op_duration_seconds_sum", labels)] == pytest.approx(sum(mine))
        buckets = [samples[("gc_provider_op_duration_seconds_bucket", tuple(sorted((*labels, ("le", le)))))]
                   for le in [metrics._le(b) for b in metrics.BUCKETS] + ["+Inf"]]
        assert buckets == sorted(buckets) and buckets[-1] == len(mine)
        for bound, n in zip(metrics.BUCKETS, buckets, strict=False):
            assert n == sum(1 for s in mine if s <= bound)
    assert metrics.parse(text).render() == text  # what the file holds reads back whole


@given(st.text(max_size=80))
def test_a_label_value_never_needs_escaping(value: str) -> None:
    got = metrics.label(value)
    assert got and set(got) <= set(metrics._SAFE)
    reg = metrics.Registry()
    reg.count("gc_provider_transport_fallbacks_total", exe="gc-session-k8s", reason=value)
    assert list(parsed(reg.render()).values()) == [1.0]


def test_the_buckets_resolve_a_ticks_10_to_100_ms() -> None:
    inside = [b for b in metrics.BUCKETS if 0.01 <= b <= 0.1]
    assert len(inside) >= 8


def test_adding_counts_per_sample() -> None:
    one, two = metrics.Registry(), metrics.Registry()
    one.count(metrics.OPS, op="get-meta", exit=0)
    two.count(metrics.OPS, op="get-meta", exit=0, by=2)
    two.count(metrics.OPS, op="get-meta", exit=1)
    one.add(two)
    got = parsed(one.render())
    assert got[("gc_provider_ops_total", (("exit", "0"), ("op", "get-meta")))] == 3
    assert got[("gc_provider_ops_total", (("exit", "1"), ("op", "get-meta")))] == 1


def private_dir(tmp_path: Path) -> Path:
    where = tmp_path / f"metrics-{uuid.uuid4().hex[:8]}"
    where.mkdir(mode=0o700)
    return where


FOLDER = """
import sys
from protocol import metrics
for _ in range(int(sys.argv[2])):
    reg = metrics.Registry()
    reg.count(metrics.OPS, exe="t", op="is-running", exit=0)
    reg.observe(metrics.DURATION, 0.02, exe="t", op="is-running")
    metrics.fold(sys.argv[1], reg)
"""


def test_concurrent_ops_never_lose_an_increment_nor_tear_the_file(tmp_path: Path) -> None:
    where = private_dir(tmp_path)
    procs, each = 16, 15
    children = [subprocess.Popen([sys.executable, "-c", FOLDER, str(where), str(each)], cwd=REPO)
                for _ in range(procs)]
    seen = 0.0
    path = where / metrics.file_name()
    while any(c.poll() is None for c in children):
        if path.exists():  # each read is a whole file: it parses, and counts never go back
            text = path.read_text()
            count = parsed(text).get(("gc_provider_ops_total", (("exe", "t"), ("exit", "0"),
                                                                ("op", "is-running"))), 0.0)
            assert count >= seen
            seen = count
    assert [c.wait() for c in children] == [0] * procs
    final = parsed(path.read_text())
    labels = (("exe", "t"), ("op", "is-running"))
    assert final[("gc_provider_ops_total", (("exe", "t"), ("exit", "0"), ("op", "is-running")))] == procs * each
    assert final[("gc_provider_op_duration_seconds_count", labels)] == procs * each
    assert sorted(p.name for p in where.iterdir() if not p.name.startswith(".")) == [metrics.file_name()]
    assert path.stat().st_mode & 0o777 == 0o644  # the scraper may be another user


def test_a_metrics_dir_others_can_write_is_refused(tmp_path: Path) -> None:
    where = private_dir(tmp_path)
    where.chmod(0o777)
    reg = metrics.Registry()
    reg.count(metrics.OPS, op="x", exit=0)
    with pytest.raises(Untrusted, match="writable by others"):
        metrics.fold(str(where), reg)
    assert list(where.iterdir()) == []


def test_a_planted_symlink_for_the_file_is_refused(tmp_path: Path) -> None:
    where = private_dir(tmp_path)
    target = tmp_path / "elsewhere"
    target.write_text("")
    (where / metrics.file_name()).symlink_to(target)
    reg = metrics.Registry()
    reg.count(metrics.OPS, op="x", exit=0)
    with pytest.raises(Untrusted, match="symlink"):
        metrics.fold(str(where), reg)
    assert target.read_text() == ""


def test_nothing_is_counted_or_written_when_metrics_are_off(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from protocol.dispatch import Operation, run

    monkeypatch.delenv("GC_METRICS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    before = dict(metrics.REGISTRY.samples)
    assert run("gc-test", {"ok": Operation(lambda call: None, ())}, {}, ["ok"]) == 0
    assert metrics.REGISTRY.samples == before
    assert list(tmp_path.iterdir()) == []
    metrics.flush({})  # off: nothing to do, nothing raised


def test_dispatch_counts_an_op_and_an_unknown_one_under_one_label(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from protocol.dispatch import Operation, run

    where = private_dir(tmp_path)
    monkeypatch.setenv("GC_METRICS_DIR", str(where))
    table = {"ok": Operation(lambda call: None, ())}
    assert run("gc-test", table, {}, ["ok"]) == 0
    assert run("gc-test", table, {}, ["no-such-op-" + uuid.uuid4().hex]) == 2
    assert run("gc-test", table, {}, ["ok", "extra"]) == 1
    got = parsed(metrics.read(str(where)).render())
    assert got[("gc_provider_ops_total", (("exe", "gc-test"), ("exit", "0"), ("op", "ok")))] == 1
    assert got[("gc_provider_ops_total", (("exe", "gc-test"), ("exit", "1"), ("op", "ok")))] == 1
    assert got[("gc_provider_ops_total", (("exe", "gc-test"), ("exit", "2"), ("op", "unknown")))] == 1
    assert os.stat(where).st_mode & 0o777 == 0o700


@given(runs, runs)
@settings(max_examples=60, deadline=None)
def test_adding_line_by_line_equals_parsing_and_rendering_whole(first: list[tuple[str, int, float]],
                                                                 then: list[tuple[str, int, float]]) -> None:
    regs = [metrics.Registry(), metrics.Registry()]
    for reg, ops in zip(regs, (first, then), strict=True):
        for op, code, seconds in ops:
            reg.count(metrics.OPS, exe="e", op=op, exit=code)
            reg.observe(metrics.DURATION, seconds, exe="e", op=op)
    text = regs[0].render()
    whole = metrics.parse(text)
    whole.add(regs[1])
    quick = metrics.added_in_place(text, regs[1])
    new_series = set(regs[1].samples) - set(regs[0].samples)
    assert (quick is None) is bool(new_series)
    if quick is not None:
        assert parsed(quick) == parsed(whole.render())


def test_threads_of_one_process_folding_at_once_lose_no_increment(tmp_path: Path) -> None:
    import threading

    where = private_dir(tmp_path)

    def fold_some() -> None:
        for _ in range(20):
            reg = metrics.Registry()
            reg.count(metrics.OPS, exe="t", op="get-meta", exit=0)
            metrics.fold(str(where), reg)

    threads = [threading.Thread(target=fold_some) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = parsed(metrics.read(str(where)).render())
    assert got[("gc_provider_ops_total", (("exe", "t"), ("exit", "0"), ("op", "get-meta")))] == 160


def test_a_layer_counts_with_one_call_and_an_op_answered_for_a_client_uses_its_environment(
        tmp_path: Path) -> None:
    import orjson

    from protocol.dispatch import observe

    where = private_dir(tmp_path)
    log = tmp_path / "audit.jsonl"
    client = {"GC_METRICS_DIR": str(where), "GC_K8S_AUDIT_LOG": str(log), "GC_SESSION_ID": "gc-9"}
    metrics.count("gc_provider_transport_fallbacks_total", exe="gc-session-k8s", reason="no kubeconfig file")
    observe("gc-session-k8s", "is-running", ["s-1"], 0, 0.012, "", "GC_K8S_AUDIT_LOG", lambda: "c0ffee",
            environ=client)
    got = parsed(metrics.read(str(where)).render())
    assert got[("gc_provider_ops_total", (("exe", "gc-session-k8s"), ("exit", "0"), ("op", "is-running")))] == 1
    assert got[("gc_provider_transport_fallbacks_total",
                (("exe", "gc-session-k8s"), ("reason", "no_kubeconfig_file")))] == 1
    assert metrics.REGISTRY.samples == {}
    line = orjson.loads(log.read_bytes())
    assert (line["op"], line["session"], line["id"], line["gc_session_id"]) == ("is-running", "s-1", "c0ffee", "gc-9")


def test_a_metrics_dir_others_may_read_is_used_as_it_is(tmp_path: Path) -> None:
    # node_exporter, running as its own user, reads the textfile: the directory stays 0755.
    where = private_dir(tmp_path)
    where.chmod(0o755)
    reg = metrics.Registry()
    reg.count("gc_provider_ops_total", exe="t", op="peek", exit="0")
    metrics.fold(str(where), reg)
    assert os.stat(where).st_mode & 0o777 == 0o755
    assert "gc_provider_ops_total" in (where / metrics.file_name()).read_text()
