"""`copy-to`: tar over `kubectl exec -i`, relative to the pod work dir, `..` rejected."""

from __future__ import annotations

from pathlib import Path

from k8s_helpers import K8s


def test_copy_to_places_files_and_directories_like_the_local_provider(k8s: K8s, tmp_path: Path
                                                                     ) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "a.txt").write_text("a\n")
    (src / "one.txt").write_text("one\n")
    name = k8s.name()
    assert k8s.start(name).rc == 0
    k8s.ok("copy-to", name, str(src / "d"), "into/dir")
    k8s.ok("copy-to", name, str(src / "one.txt"), "conf/renamed.txt")  # a file path (G-18)
    k8s.ok("copy-to", name, str(src / "one.txt"), "")
    k8s.ok("copy-to", name, str(tmp_path / "missing"), "x")
    listing = k8s.ok("exec", name, stdin="cd /workspace && find . -type f | sort")
    assert listing.splitlines() == ["./conf/renamed.txt", "./into/dir/a.txt", "./one.txt"]


def test_copy_to_rejects_escaping_destinations(k8s: K8s, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    name = k8s.name()
    assert k8s.start(name).rc == 0
    for bad in ("../x", "a/../../x", "/etc/x"):
        res = k8s.run("copy-to", name, str(tmp_path / "f"), bad)
        assert res.rc == 1 and res.err, bad
