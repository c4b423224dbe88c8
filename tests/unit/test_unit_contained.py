"""Property: whatever the paths and the links planted in the work dir, nothing is written outside it.

Hypothesis generates a work dir full of links (to a sibling session's dir and
files, to /, dangling, in loops, hard links), a source tree with its own links
and odd names (spaces, newlines, dots), and a destination path that may try to
escape. The local copy (`overlay.copy_into`) and the pod path (the staging tar
unpacked by the host's GNU tar, as in the stage container) must leave
everything outside the work dir byte for byte as it was.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gc_session_k8s.pod import staging
from protocol.errors import ProviderError, UsageError
from providers.tmux import contained, overlay

NAMES = st.sampled_from(["a", "b", "c d", "new\nline", "...", ".x", "-e", "x;"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(tuple)
#: Where a planted link in the work dir points (resolved against the layout's dirs).
TARGETS = st.sampled_from(["sibling", "sibling/file", "/", "nowhere", "loop", "work",
                           "../sibling", "inside"])
KINDS = st.sampled_from(["dir", "file", "link", "hardlink"])


class Layout(NamedTuple):
    planted: list[tuple[tuple[str, ...], str, str]]  # (path in work, kind, link target)
    source: list[tuple[tuple[str, ...], str, str]]  # (path in src, kind, link target)
    rel_dst: str


REL_DST = st.one_of(
    st.lists(st.sampled_from(["a", "b", ".", "..", "", "c d", "new\nline"]), max_size=4).map(
        "/".join),
    st.sampled_from(["/abs", "/", "a/../../x"]))
LAYOUTS = st.builds(Layout, st.lists(st.tuples(PATHS, KINDS, TARGETS), max_size=8),
                    st.lists(st.tuples(PATHS, KINDS, TARGETS), max_size=8), REL_DST)


def snapshot(root: Path, skip: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry under ``root`` but ``skip``: its kind and content (links: their text)."""
    seen: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            continue
        for entry in dirnames + filenames:
            path = Path(dirpath) / entry
            if path == skip:
                continue
            if path.is_symlink():
                seen[str(path)] = ("link", os.readlink(path).encode())
            elif path.is_dir():
                seen[str(path)] = ("dir", b"")
            else:
                seen[str(path)] = ("file", path.read_bytes())
    return seen


def build(base: Path, parts: tuple[str, ...], kind: str, target: str, inside: Path) -> None:
    path = base.joinpath(*parts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "dir":
            path.mkdir(exist_ok=True)
        elif kind == "file":
            path.write_bytes(b"content of " + "/".join(parts).encode())
        elif kind == "hardlink":
            os.link(inside.parent / "sibling" / "file", path)
        else:
            resolved = {"sibling": str(inside.parent / "sibling"), "loop": str(path),
                        "sibling/file": str(inside.parent / "sibling" / "file"),
                        "work": str(inside.parent / "work"), "inside": str(inside / "a")}
            path.symlink_to(resolved.get(target, target))
    except OSError:
        pass  # a parent is a file or a link: this entry simply is not there


def make(tmp: Path, layout: Layout) -> tuple[Path, Path]:
    work, src, sibling = tmp / "work", tmp / "src", tmp / "sibling"
    for d in (work, src, sibling / "dir"):
        d.mkdir(parents=True)
    (sibling / "file").write_bytes(b"sibling's file")
    for parts, kind, target in layout.planted:
        build(work, parts, kind, target, work)
    for parts, kind, target in layout.source:
        build(src, parts, kind, target, src)
    return work, src


def escapes(rel: str) -> bool:
    return rel.startswith("/") or ".." in rel.split("/")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LAYOUTS)
def test_a_local_copy_never_writes_outside_the_work_dir(layout: Layout) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        work, src = make(tmp, layout)
        before = snapshot(tmp, work)
        try:
            overlay.copy_into(str(work), str(src), layout.rel_dst)
        except UsageError:
            assert escapes(layout.rel_dst)
        except ProviderError as error:  # a file where a dir goes, or the reverse
            assert "exists and is" in str(error) or "replace the work dir" in str(error)
        else:
            assert not escapes(layout.rel_dst)
        assert snapshot(tmp, work) == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LAYOUTS)
def test_the_staging_tar_unpacked_by_tar_never_writes_outside_the_work_dir(layout: Layout
                                                                          ) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        work, src = make(tmp, layout)
        before = snapshot(tmp, work)
        try:
            data = staging.single(str(src), staging.safe_rel(layout.rel_dst))
        except UsageError:
            assert escapes(layout.rel_dst)
            return
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                assert member.isdir() or member.isfile()
                assert "/".join(contained.rel_parts(member.name)) == member.name
        subprocess.run(["tar", "-x", "-o", "-f", "-", "-C", str(work)], input=data,
                       capture_output=True, check=False)
        assert snapshot(tmp, work) == before


@pytest.mark.parametrize("rel", ["../x", "a/../../x", "/etc/x", "a/..", "\0"])
def test_escaping_destinations_are_refused_by_both_providers_alike(rel: str) -> None:
    with pytest.raises(UsageError):
        contained.rel_parts(rel)
    with pytest.raises(UsageError):
        staging.safe_rel(rel)


def test_a_too_deep_source_fails_with_one_line_before_anything_is_written(tmp_path: Path
                                                                          ) -> None:
    src, work = tmp_path / "src", tmp_path / "work"
    (src / "first").mkdir(parents=True)
    (src / "first" / "f").write_text("x")
    work.mkdir()
    path = src / "second"
    path.mkdir()
    for _ in range(contained.MAX_DEPTH):
        path = path / "d"
        path.mkdir()
    with pytest.raises(ProviderError, match="directories deep") as raised:
        overlay.copy_into(str(work), str(src), "")
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300
    assert list(work.iterdir()) == []
    with pytest.raises(UsageError, match="directories deep"):
        overlay.copy_into(str(work), str(src / "first"), "a/" * (contained.MAX_DEPTH + 1))
