"""Is the agent alive? A walk of the pane's process tree, never a `pgrep -f`.

`pgrep -f claude` matches the tmux server itself (it keeps the argv of the
client that started it) and any substring. Gas City's tmux provider instead
walks down from the pane's process and compares exact names: the process name
(comm), argv[0]'s basename, and for interpreters the script they run. This
module does the same over a `Processes` snapshot: the local /proc (or, where
there is none, a local ``ps`` listing), or a ``ps`` listing taken inside a
pod; either only when a pane's own command does not answer.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

#: Interpreters whose first positional argument names the agent (`node cli.js`).
SCRIPT_RUNNERS = frozenset({"node", "bun", "npx", "deno", "python", "python3", "bunx", "tsx"})
#: Subcommands of those runners that come before the script (`bun run x`).
RUNNER_VERBS = frozenset({"run", "exec", "x"})
#: The kernel truncates a process name (comm) to 15 bytes.
COMM_LEN = 15
MAX_DEPTH = 10


class Processes:
    """A read-only view of a process table."""

    def children(self, pid: int) -> list[int]:
        raise NotImplementedError

    def comm(self, pid: int) -> str:
        raise NotImplementedError

    def argv(self, pid: int) -> list[str]:
        raise NotImplementedError


class LocalProcesses(Processes):
    """This machine's /proc, read lazily: only the pane's subtree is touched.

    Without /proc (macOS), or with ``GC_PORTABLE=1``, the table is one ``ps``
    snapshot (two listings: names, then argv), taken on first use: a pane whose
    own command answers never pays for it.
    """

    def __init__(self) -> None:
        from protocol.processes import fast

        self.portable = not fast()
        self._listed = Deferred(_local_listing) if self.portable else None

    @property
    def listed(self) -> Deferred | None:
        """The ``ps`` snapshot on the portable path (taken on first use), else None."""
        return self._listed

    def children(self, pid: int) -> list[int]:
        if self.listed is not None:
            return self.listed.children(pid)
        try:
            with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def comm(self, pid: int) -> str:
        if self.listed is not None:
            return self.listed.comm(pid)
        try:
            with open(f"/proc/{pid}/comm", "rb") as f:
                return f.read().rstrip(b"\n").decode("utf-8", "replace")
        except OSError:
            return ""

    def argv(self, pid: int) -> list[str]:
        if self.listed is not None:
            return self.listed.argv(pid)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            return []
        return [a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0")] if raw else []


class ListedProcesses(Processes):
    """A table parsed from ``ps -A -o pid= -o ppid= -o comm=`` and ``-o pid= -o args=``."""

    def __init__(self, comm_listing: str, args_listing: str) -> None:
        self._children: dict[int, list[int]] = {}
        self._comm: dict[int, str] = {}
        self._args: dict[int, list[str]] = {}
        for line in comm_listing.splitlines():
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
                continue
            pid, ppid = int(parts[0]), int(parts[1])
            self._children.setdefault(ppid, []).append(pid)
            comm = parts[2].strip() if len(parts) > 2 else ""
            # BSD ps (macOS) shows the executable's full path as comm; Linux its 15-byte name.
            self._comm[pid] = os.path.basename(comm) if comm.startswith("/") else comm
        for line in args_listing.splitlines():
            parts = line.split(None, 1)
            if parts and parts[0].isdigit():
                # ps joins argv with spaces; splitting back is approximate but
                # argv[0] and the first positional are what matching needs.
                self._args[int(parts[0])] = parts[1].split() if len(parts) > 1 else []

    def children(self, pid: int) -> list[int]:
        return self._children.get(pid, [])

    def comm(self, pid: int) -> str:
        return self._comm.get(pid, "")

    def argv(self, pid: int) -> list[str]:
        return self._args.get(pid, [])


class Deferred(Processes):
    """A listing taken on first use (``fetch``): a pane whose own command answers never
    pays for reading the process table."""

    def __init__(self, fetch: Callable[[], ListedProcesses]) -> None:
        self._fetch = fetch
        self._table: ListedProcesses | None = None

    @property
    def table(self) -> ListedProcesses:
        if self._table is None:
            self._table = self._fetch()
        return self._table

    def children(self, pid: int) -> list[int]:
        return self.table.children(pid)

    def comm(self, pid: int) -> str:
        return self.table.comm(pid)

    def argv(self, pid: int) -> list[str]:
        return self.table.argv(pid)


def _local_listing() -> ListedProcesses:
    """This machine's process table from ``ps`` (the portable path)."""
    from protocol import proc

    names = proc.run(["ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "comm="], timeout=20)
    args = proc.run(["ps", "-A", "-ww", "-o", "pid=", "-o", "args="], timeout=20)
    return ListedProcesses(names.text(), args.text())


def _stem(path: str) -> str:
    base = os.path.basename(path)
    for ext in (".js", ".mjs", ".cjs", ".ts", ".py"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base


def _script_of(argv: list[str]) -> str:
    """The script an interpreter runs: first positional after flags and run/exec/x."""
    args = argv[1:]
    for i, arg in enumerate(args):
        if arg == "-m" and i + 1 < len(args):  # python -m module
            return args[i + 1].rsplit(".", 1)[-1]
        if arg.startswith("-") or arg in RUNNER_VERBS:
            continue
        return os.path.basename(arg)
    return ""


def names_of(procs: Processes, pid: int) -> set[str]:
    """Every name a process answers to: comm, argv[0] basename, interpreted script."""
    names = set()
    comm = procs.comm(pid)
    if comm:
        names.add(comm)
    argv = procs.argv(pid)
    if argv:
        first = os.path.basename(argv[0])
        names.add(first)
        runner = first.rstrip("0123456789.") if first.startswith("python") else first
        if runner in SCRIPT_RUNNERS or first in SCRIPT_RUNNERS:
            script = _script_of(argv)
            if script:
                # Both spellings, as gc's own tmux provider: "fake-agent.py" and "fake-agent".
                names.update((script, _stem(script)))
    return names


def _matches(names: set[str], wanted: Iterable[str]) -> bool:
    for want in wanted:
        if want in names:
            return True
        # comm is cut to 15 bytes: a long name matches its own prefix there.
        if len(want) > COMM_LEN and want[:COMM_LEN] in names:
            return True
    return False


def tree_has(procs: Processes, root: int, wanted: Iterable[str]) -> bool:
    """Does ``root`` or a descendant (depth ≤ 10) answer to one of ``wanted``?"""
    wanted = [w for w in wanted if w]
    if not wanted:
        return False
    frontier = [root]
    seen: set[int] = set()
    for _ in range(MAX_DEPTH + 1):
        following: list[int] = []
        for pid in frontier:
            if pid in seen:
                continue
            seen.add(pid)
            if _matches(names_of(procs, pid), wanted):
                return True
            following.extend(procs.children(pid))
        if not following:
            return False
        frontier = following
    return False


def descendants(procs: Processes, roots: Iterable[int]) -> list[int]:
    """All descendants of ``roots``, deepest first (the order to signal them in)."""
    order: list[int] = []
    seen: set[int] = set()
    frontier = list(roots)
    while frontier:
        following = []
        for pid in frontier:
            for child in procs.children(pid):
                if child not in seen:
                    seen.add(child)
                    order.append(child)
                    following.append(child)
        frontier = following
    order.reverse()
    return order
