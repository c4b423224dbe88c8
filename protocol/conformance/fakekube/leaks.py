"""What the fake servers of this process left behind (for end-of-session checks)."""

from __future__ import annotations

import os
import subprocess

from protocol.conformance.fakekube.server import FakeKube


def _pod_pids(uids: set[str], roots: list[str]) -> set[int]:
    found: set[int] = set()
    markers = {f"FAKEKUBE_POD={u}".encode() for u in uids}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue  # zombies hold nothing; a slow reaper may keep them a while
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = set(f.read().split(b"\0"))
        except (OSError, IndexError):
            continue
        if env & markers or any(r.encode() in cmd for r in roots):
            found.add(int(entry))
    return found


def leftovers(servers: list[FakeKube] | None = None) -> dict[str, list[str]]:
    """Processes, temp dirs and containers still around from
    `servers` (default: every FakeKube made in this process). Empty when clean."""
    servers = FakeKube.instances if servers is None else servers
    uids: set[str] = set()
    roots: list[str] = []
    dirs: list[str] = []
    docker_ids: list[str] = []
    for s in servers:
        uids |= s.kubelet.seen_uids
        roots.append(s.root_dir)
        if os.path.exists(s.root_dir):
            dirs.append(s.root_dir)
        server_id = getattr(s.backend, "server_id", None)
        if server_id:
            r = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=fakekube.server={server_id}"],
                               capture_output=True, text=True, check=False)
            docker_ids += r.stdout.split()
    found = {
        "processes": [str(p) for p in sorted(_pod_pids(uids, roots))],
        "temp dirs": dirs,
        "containers": docker_ids,
    }
    return {k: v for k, v in found.items() if v}

