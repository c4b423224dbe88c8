"""Argument parsing for the commands people type (``doctor``, ``init``), with no dependency.

These commands used to go through typer, whose click is an implementation
detail (recent typer vendors it, so ``import click`` fails on a plain
install) and whose usage errors exit 2, which Gas City reads as "not
implemented". A command here has a handful of flags and positionals, so it is
parsed by hand: ``-h``/``--help`` prints the synopsis and returns, an unknown
option or a wrong count is a `UsageError` (exit 1, one line).
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from protocol.dispatch import usage_of
from protocol.errors import UsageError


class Flag(NamedTuple):
    """A boolean option: ``--long`` and optionally ``-s``."""

    long: str
    short: str
    help: str


class Command(NamedTuple):
    """A human command's synopsis; ``args`` uses `protocol.dispatch`'s spec (``?name`` optional)."""

    prog: str
    args: tuple[str, ...]
    flags: tuple[Flag, ...]
    summary: str
    details: str = ""

    def usage(self) -> str:
        options = " ".join(f"[{f.long}]" for f in self.flags)
        return " ".join(p for p in (f"usage: {self.prog}", options, usage_of(self.args)) if p)

    def help(self) -> str:
        lines = [self.usage(), "", self.summary]
        if self.details:
            lines += ["", self.details]
        lines += ["", "options:", "  -h, --help".ljust(24) + "show this help and exit"]
        for flag in self.flags:
            names = f"{flag.short}, {flag.long}" if flag.short else f"    {flag.long}"
            lines.append(f"  {names}".ljust(24) + flag.help)
        return "\n".join(lines) + "\n"


class Parsed(NamedTuple):
    flags: frozenset[str]
    args: list[str]


def parse(command: Command, argv: list[str]) -> Parsed | None:
    """Parse ``argv``; None after printing the help for ``-h``/``--help``."""
    by_name = {f.long: f.long for f in command.flags}
    by_name.update({f.short: f.long for f in command.flags if f.short})
    flags: set[str] = set()
    args: list[str] = []
    rest = iter(argv)
    for arg in rest:
        if arg == "--":
            args.extend(rest)
            break
        if arg in ("-h", "--help"):
            sys.stdout.write(command.help())
            return None
        if arg.startswith("-") and arg != "-":
            if arg not in by_name:
                raise UsageError(f"unknown option {arg[:40]!r}; {command.usage()}")
            flags.add(by_name[arg])
            continue
        args.append(arg)
    required = sum(1 for a in command.args if not a.startswith("?"))
    if not required <= len(args) <= len(command.args):
        raise UsageError(command.usage())
    return Parsed(frozenset(flags), args)


class Finding(NamedTuple):
    """One doctor line: ``ok``, ``FAIL``, ``warn`` or ``info``, what was checked, what was found.

    ``warn``: checked, and the first real operation may fail, but not certainly (the
    check could not see everything the operation will); it does not fail the doctor.
    """

    status: str
    name: str
    detail: str
    text: str


class Doctor:
    """A doctor's findings: printed one per line as they come, or one JSON document at the end.

    ``--json`` prints ``{"ok": bool, "checks": [{"name", "status", "detail"}]}``
    (status ``ok``, ``fail``, ``warn`` or ``info``) and nothing else on stdout.
    """

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.findings: list[Finding] = []

    @property
    def ok(self) -> bool:
        return all(f.status != "FAIL" for f in self.findings)

    def add(self, status: str, name: str, detail: str, text: str = "") -> None:
        detail = " ".join(detail.split())
        finding = Finding(status, name, detail, text or (f"{name}: {detail}" if detail else name))
        self.findings.append(finding)
        if not self.as_json:
            sys.stdout.write(f"{status:<6}{finding.text}\n")
            sys.stdout.flush()

    def check(self, passed: bool, name: str, detail: str, text: str = "") -> None:
        self.add("ok" if passed else "FAIL", name, detail, text)

    def finish(self, verdict: bool = True) -> bool:
        """Print the JSON document (``--json``) or the verdict line; return whether all passed."""
        if self.as_json:
            import orjson

            doc = {"ok": self.ok, "checks": [
                {"name": f.name, "status": f.status.lower(), "detail": f.detail}
                for f in self.findings]}
            sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        elif verdict:
            warnings = sum(1 for f in self.findings if f.status == "warn")
            passed = "all checks passed" + (f", {warnings} warning(s)" if warnings else "")
            sys.stdout.write(f"{passed}\n" if self.ok else "some checks failed\n")
        sys.stdout.flush()
        return self.ok


JSON_FLAG = Flag("--json", "", "print one JSON document instead of lines")
