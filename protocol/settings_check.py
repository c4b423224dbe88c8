"""Settings checked once, at start-up, before the operation runs.

An operator's typo (``GC_K8S_TRANSPORT=bogus``, ``GC_NUDGE_DEBOUNCE_MS=abc``) used to fall
back to the default without a word. Each executable declares the settings it reads as
numbers, flags or choices; `check` refuses an invalid one with one line naming what is
valid (a `UsageError`: exit 1). Empty counts as unset. Only ``os``: hot ops load this.
"""

from __future__ import annotations

import os

from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: The values a flag may take (anything else is a typo, not "off").
FLAG_VALUES = ("1", "0", "true", "false", "yes", "no", "on", "off")


class Setting:
    """What one setting may be: ``kind`` is "int", "number", "port", "flag" or "choice".

    "number" is a decimal (``1.5``) strictly above ``minimum`` unless ``inclusive``."""

    __slots__ = ("choices", "inclusive", "kind", "minimum", "what")

    def __init__(self, kind: str, what: str = "", *, minimum: float = 0, inclusive: bool = False,
                 choices: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.what = what
        self.minimum = minimum
        self.inclusive = inclusive
        self.choices = choices

    def problem(self, raw: str) -> str:
        """Empty when ``raw`` is valid, else what a valid value is."""
        if self.kind == "choice":
            return "" if raw in self.choices else "one of " + ", ".join(self.choices)
        if self.kind == "flag":
            return "" if raw.lower() in FLAG_VALUES else "1 or 0 (also true/false, yes/no, on/off)"
        if self.kind == "port":
            return "" if digits(raw) and 0 < int(raw) < 65536 else "a port number from 1 to 65535"
        if self.kind == "int":
            ok = digits(raw) and int(raw) >= self.minimum
            return "" if ok else f"a whole number {self.what}, {self.minimum:g} or more"
        ok = digits(raw.replace(".", "", 1)) and (
            float(raw) >= self.minimum if self.inclusive else float(raw) > self.minimum)
        bound = f"{self.minimum:g} or more" if self.inclusive else f"above {self.minimum:g}"
        return "" if ok else f"a number {self.what} (like 1.5), {bound}"


def digits(raw: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``¹``, which `int` refuses)."""
    return raw.isascii() and raw.isdigit()


def millis() -> Setting:
    return Setting("int", "of milliseconds")


def seconds(*, zero_ok: bool = False) -> Setting:
    return Setting("number", "of seconds", inclusive=zero_ok)


def choice(*values: str) -> Setting:
    return Setting("choice", choices=values)


FLAG = Setting("flag")
PORT = Setting("port")


def check(settings: Mapping[str, Setting], environ: Mapping[str, str] | None = None) -> None:
    """Raise `UsageError` for the first invalid setting in ``environ``, naming the valid values."""
    env = os.environ if environ is None else environ
    for name, setting in settings.items():
        raw = env.get(name, "")
        if raw == "":
            continue
        problem = setting.problem(raw)
        if problem:
            raise UsageError(f"invalid {name}={raw[:40]!r}: want {problem}")
