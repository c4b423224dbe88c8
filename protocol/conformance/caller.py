"""The Go caller's readings of each op's output (``internal/runtime/exec``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")


def trim_output(stdout: bytes) -> str:
    """``strings.TrimRight(stdout, "\\n")``: only trailing newlines go."""
    return stdout.rstrip(b"\n").decode("utf-8", "replace")


def reads_true(output: str) -> bool:
    """``is-running``/``process-alive``: true iff ``TrimSpace(out) == "true"``."""
    return output.strip() == "true"


def exact_bool(output: str) -> bool | None:
    """The checkers' stricter reading: exactly ``true`` or ``false`` (else None)."""
    return {"true": True, "false": False}.get(output)


def split_list(output: str) -> list[str]:
    """``list-running``: ``""`` is no names, else split on ``\\n`` (blanks kept)."""
    return [] if output == "" else output.split("\n")


def join_process_names(names: Sequence[str]) -> bytes:
    """``process-alive`` stdin: names joined by ``\\n``, no final newline."""
    return "\n".join(names).encode("utf-8")


def parse_rfc3339(text: str) -> datetime | None:
    """Go's ``time.Parse(time.RFC3339, s)``; None when it would not parse."""
    match = _RFC3339.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    if zone == "Z":
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None
