"""A city wired to the offline API server: runner pod, fake bd, fake Dolt server
(the fixtures in conftest.py build them)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import orjson
from helpers import Completed, Provider, executable

#: The fake bd as installed (the wheel's copy in installed mode).
FAKE_BD = Path(__file__).resolve().parent.parent / "doubles" / "fake_bd.py"
#: Pods of the local backend have a private /tmp, so shared test state (and the fake
#: bd the pod runs) lives here, wherever the checkout or the venv happens to be.
SHARED = Path("/var/tmp")
KUBECTL = "/usr/bin/kubectl"


class City:
    """One city: its directory, a provider bound to its env, and its fake Dolt root."""

    def __init__(self, root: Path, provider: Provider, dolt_root: Path, port: str) -> None:
        self.root = root
        self.provider = provider
        self.dolt_root = dolt_root
        self.port = port

    @property
    def env(self) -> dict[str, str]:
        return self.provider.env

    def scope(self, root: Path | None = None, prefix: str = "") -> dict[str, str]:
        """The store-op env gc sets for a scope (GC_DOLT_*/BEADS_* blanked)."""
        scope_root = root or self.root
        return {
            "GC_STORE_ROOT": str(scope_root),
            "GC_STORE_SCOPE": "city" if scope_root == self.root else "rig",
            "GC_BEADS_PREFIX": prefix,
            "GC_DOLT_HOST": "", "GC_DOLT_PORT": "", "BEADS_DIR": "",
        }

    def run(self, op: str, *args: str, stdin: bytes | str = b"", scope: Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 60) -> Completed:
        extra = {**self.scope(scope), **(env or {})}
        return self.provider.run(op, *args, stdin=stdin, env=extra, timeout=timeout)

    def ok(self, op: str, *args: str, stdin: bytes | str = b"", scope: Path | None = None) -> str:
        res = self.run(op, *args, stdin=stdin, scope=scope)
        assert res.rc == 0, f"{op} {args} exited {res.rc}: {res.err}"
        return res.value

    def json(self, op: str, *args: str, stdin: bytes | str = b"",
             scope: Path | None = None) -> Any:
        return orjson.loads(self.ok(op, *args, stdin=stdin, scope=scope) or b"null")

    def create(self, scope: Path | None = None, **fields: Any) -> dict[str, Any]:
        bead: dict[str, Any] = self.json("create", stdin=orjson.dumps(fields), scope=scope)
        return bead


def make_city(kube_env: dict[str, str], base: Path, name: str = "city",
              namespace: str = "gc") -> City:
    root = base / name
    root.mkdir(parents=True)
    dolt_root = base / "dolt"
    port = str(20000 + uuid.uuid4().int % 20000)
    (dolt_root / f"fake-dolt_{port}").mkdir(parents=True, exist_ok=True)
    fake_bd = base / "fake_bd.py"
    if not fake_bd.exists():
        shutil.copyfile(FAKE_BD, fake_bd)
    env = {
        **kube_env,
        "GC_KUBECTL": KUBECTL,
        "GC_K8S_NAMESPACE": namespace,
        "GC_K8S_IMAGE": "gc-test/beads:1",
        "GC_BEADS_BD": f"env GC_FAKE_DOLT_ROOT={dolt_root} /usr/bin/python3 {fake_bd}",
        "GC_K8S_DOLT_HOST": "fake-dolt",
        "GC_K8S_DOLT_PORT": port,
        "GC_CITY": str(root),
        "GC_CITY_PATH": str(root),
    }
    return City(root, Provider(executable("gc-beads-k8s"), env), dolt_root, port)


class Scope:
    """A freshly initialized rig scope of the shared city: an empty store."""

    def __init__(self, city: City, root: Path, prefix: str) -> None:
        self.city = city
        self.root = root
        self.prefix = prefix

    def run(self, op: str, *args: str, stdin: bytes | str = b"") -> Completed:
        return self.city.run(op, *args, stdin=stdin, scope=self.root)

    def ok(self, op: str, *args: str, stdin: bytes | str = b"") -> str:
        return self.city.ok(op, *args, stdin=stdin, scope=self.root)

    def json(self, op: str, *args: str, stdin: bytes | str = b"") -> Any:
        return self.city.json(op, *args, stdin=stdin, scope=self.root)

    def create(self, **fields: Any) -> dict[str, Any]:
        return self.city.create(scope=self.root, **fields)
