"""Private state is private on Kubernetes too: a runtime dir (the helper's socket, cached
kubeconfigs) another local user planted, or a file at the helper's socket path, is
refused with one line and exit 1 by every transport that would use it, through the
executable's quickest path and the full way alike; nothing is created there."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_helpers import K8s
from planter import Planter, second_user, shared_tmp, tree

from providers.kube.transport import wire

OPS = [("is-running", (), b""), ("process-alive", (), b"sleep"), ("get-meta", ("K",), b""),
       ("set-meta", ("K",), b"v"), ("nudge", (), b"hi")]


@pytest.fixture
def planter() -> Iterator[Planter]:
    yield from second_user()


def refused(err: str) -> bool:
    return err.count("\n") == 1 and "refusing" in err


@pytest.mark.parametrize("transport", ["auto", "helper", "direct"])
def test_a_runtime_dir_planted_by_another_user_is_refused_by_every_op(
        k8s: K8s, planter: Planter, transport: str) -> None:
    for shared in shared_tmp():
        planted = shared / "run"
        planter.run("import os, sys; os.mkdir(sys.argv[1]); os.chmod(sys.argv[1], 0o777)",
                    str(planted))
        env = {"GC_K8S_TRANSPORT": transport, "GC_K8S_RUNTIME_DIR": str(planted)}
        name = k8s.name()
        for op, args, stdin in OPS:
            res = k8s.run(op, name, *args, stdin=stdin, env=env)
            assert res.rc == 1 and refused(res.err), (op, res)
            assert f"owned by uid {planter.uid}" in res.err
        assert tree(planted) == []


def test_a_file_at_the_helper_socket_path_is_refused_not_silently_gone_around(
        k8s: K8s, tmp_path: Path) -> None:
    run_dir = Path("/tmp") / f"gck-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(mode=0o700)
    try:
        (run_dir / wire.socket_name()).write_text("left here")
        env = {"GC_K8S_TRANSPORT": "auto", "GC_K8S_RUNTIME_DIR": str(run_dir)}
        for op, args, stdin in OPS[:3]:
            res = k8s.run(op, k8s.name(), *args, stdin=stdin, env=env)
            assert res.rc == 1 and refused(res.err) and "not a socket" in res.err, (op, res)
        assert sorted(os.listdir(run_dir)) == [wire.socket_name()]
    finally:
        for child in run_dir.iterdir():
            child.unlink()
        run_dir.rmdir()
