"""The settings table: every environment setting an executable reads, declared once.

Each executable lists its settings as `Setting` rows (name, kind, default, valid values,
help) in one table. From that table come, and from nowhere else:

* the check at start-up, before the operation runs: an invalid value (``GC_K8S_TRANSPORT=bogus``,
  ``GC_NUDGE_DEBOUNCE_MS=abc``) is one line naming what is valid, exit 1 (`check`);
* the values the code reads, typed and defaulted (`Setting.text`, `number`, `whole`, `flag`),
  which each executable's settings object is built from;
* the ``settings`` section of the executable's ``--help`` (`help_section`), and from it the
  settings tables of docs/reference.md, README.md and ARCHITECTURE.md
  (``python tests/unit/test_unit_settings_table.py --write``).

Empty counts as unset. Plain data and ``os`` only: every hot op loads this.
"""

from __future__ import annotations

import os

from protocol.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: The values a flag may take (anything else is a typo, not "off").
FLAG_VALUES = ("1", "0", "true", "false", "yes", "no", "on", "off")
#: The flag values that mean on.
FLAG_ON = ("1", "true", "yes", "on")
#: The kinds of setting: what `Setting.value` makes of the text.
KINDS = ("text", "int", "number", "numbers", "port", "flag", "choice", "id", "loopback")


class Setting:
    """One row of a settings table.

    ``kind``: "text" (anything), "int" (a whole number, ``minimum`` or more), "number" (a
    decimal like ``1.5``, above ``minimum``, or from it when ``inclusive``), "numbers" (such
    decimals, comma-separated, from ``minimum`` up to ``maximum``), "port" (1 to
    65535), "flag" (`FLAG_VALUES`), "choice" (one of ``choices``), "id" (a whole number,
    or ``image``/``none`` for the image's own) or "loopback" (a ``host:port`` on loopback,
    `loopback_addr`: never a listener others can reach). ``default``: the value when unset, as text;
    ``shown``: what the help says the default is when that is not ``default`` itself
    ("the current context"; empty: ``default``, or "none" when that is empty too).
    ``what``: the unit a number is in ("of milliseconds"). ``help``: one line, for people.
    """

    __slots__ = ("choices", "default", "help", "inclusive", "kind", "maximum", "minimum", "name",
                 "shown", "what")

    def __init__(self, name: str, help: str, kind: str = "text", *, default: str = "",
                 shown: str = "", what: str = "", minimum: float = 0, maximum: float = 0,
                 inclusive: bool = False, choices: tuple[str, ...] = ()) -> None:
        assert kind in KINDS, kind
        self.name = name
        self.help = help
        self.kind = kind
        self.default = default
        self.shown = shown
        self.what = what
        self.minimum = minimum
        self.maximum = maximum
        self.inclusive = inclusive
        self.choices = choices

    def but(self, **changes: str) -> Setting:
        """This row with another ``help`` or ``shown`` (one setting, said for another executable)."""
        row = Setting(self.name, self.help, self.kind, default=self.default, shown=self.shown,
                      what=self.what, minimum=self.minimum, maximum=self.maximum,
                      inclusive=self.inclusive,
                      choices=self.choices)
        for key, value in changes.items():
            setattr(row, key, value)
        return row

    @property
    def default_text(self) -> str:
        """The default as the help and the docs say it."""
        return self.shown or self.default or "none"

    def valid(self) -> str:
        """What a valid value is, in words (empty: anything)."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "flag":
            return "1 or 0 (also true/false, yes/no, on/off)"
        if self.kind == "port":
            return "a port number from 1 to 65535"
        if self.kind == "int":
            return f"a whole number {self.what}, {self.minimum:g} or more".replace("  ", " ")
        if self.kind == "id":
            return "a whole number, or 'image' for the image's own"
        if self.kind == "loopback":
            return "a loopback address: 127.0.0.1:PORT, [::1]:PORT or localhost:PORT"
        if self.kind == "numbers":
            return (f"numbers {self.what}, comma-separated (like 0.25,1), each "
                    f"{self.minimum:g} to {self.maximum:g}").replace("  ", " ")
        if self.kind == "number":
            bound = f"{self.minimum:g} or more" if self.inclusive else f"above {self.minimum:g}"
            return f"a number {self.what} (like 1.5), {bound}".replace("  ", " ")
        return ""

    def problem(self, raw: str) -> str:
        """Empty when ``raw`` (not empty) is valid, else what a valid value is."""
        if self.kind == "text":
            return ""
        if self.kind == "choice":
            ok = raw in self.choices
        elif self.kind == "flag":
            ok = raw.lower() in FLAG_VALUES
        elif self.kind == "port":
            ok = digits(raw) and 0 < int(raw) < 65536
        elif self.kind == "int":
            ok = digits(raw) and int(raw) >= self.minimum
        elif self.kind == "id":
            ok = digits(raw) or raw.lower() in ("image", "none")
        elif self.kind == "loopback":
            try:
                loopback_addr(raw, self.name)
                ok = True
            except ValueError:
                ok = False
        elif self.kind == "numbers":
            ok = all(digits(p.replace(".", "", 1)) and self.minimum <= float(p) <= self.maximum
                     for p in raw.split(","))
        else:
            ok = digits(raw.replace(".", "", 1)) and (
                float(raw) >= self.minimum if self.inclusive else float(raw) > self.minimum)
        return "" if ok else self.valid()

    def raw(self, environ: Mapping[str, str]) -> str:
        """The text in force: ``environ``'s when set and valid, else the default (a library
        caller's environment is not checked; an executable's is, by `check`, before any op)."""
        raw = environ.get(self.name) or ""
        return raw if raw and not self.problem(raw) else self.default

    def text(self, environ: Mapping[str, str]) -> str:
        return self.raw(environ)

    def number(self, environ: Mapping[str, str]) -> float:
        """A "number", "int" or "port" setting's value (0 when unset with no default)."""
        raw = self.raw(environ)
        return float(raw) if raw else 0.0

    def whole(self, environ: Mapping[str, str]) -> int:
        raw = self.raw(environ)
        return int(raw) if digits(raw) else 0

    def flag(self, environ: Mapping[str, str]) -> bool:
        return self.raw(environ).lower() in FLAG_ON


def loopback_addr(raw: str, name: str) -> tuple[str, int]:
    """``raw`` (``127.0.0.1:PORT``, ``[::1]:PORT``, ``localhost:PORT``) as (host, port);
    ValueError, in one line naming the setting ``name``, for anything not on loopback."""
    host, _, port = raw.rpartition(":")
    host = host[1:-1] if host[:1] == "[" and host[-1:] == "]" else host
    quad = host.split(".")
    loop = host in ("localhost", "::1") or (
        len(quad) == 4 and quad[0] == "127"
        and all(digits(p) and int(p) < 256 for p in quad))
    if not loop:
        raise ValueError(f"{name}={raw!r}: the metrics listener binds loopback only "
                         "(127.0.0.1:PORT, [::1]:PORT or localhost:PORT)")
    if not (digits(port) and 0 < int(port) < 65536):
        raise ValueError(f"{name}={raw!r}: the port must be a number from 1 to 65535")
    return ("127.0.0.1" if host == "localhost" else host), int(port)


def digits(raw: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``¹``, which `int` refuses)."""
    return raw.isascii() and raw.isdigit()


def table(*rows: Setting | Iterable[Setting]) -> dict[str, Setting]:
    """A settings table by name, in the order given (a later row of one name replaces the
    earlier one in place); rows may come one by one or as shared groups."""
    found: dict[str, Setting] = {}
    for item in rows:
        for row in (item,) if isinstance(item, Setting) else item:
            found[row.name] = row
    return found


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


def help_section(settings: Mapping[str, Setting]) -> str:
    """The ``settings`` section of ``--help``: one line per setting, its help and default."""
    width = max(len(name) for name in settings) + 2
    lines = ["settings (environment; empty means unset):"]
    lines += [f"  {row.name.ljust(width)}{row.help} (default: {row.default_text})"
              for row in settings.values()]
    return "\n".join(lines)


# The settings every executable reads (`protocol.dispatch`, `protocol.metrics`).
METRICS_DIR = Setting("GC_METRICS_DIR", "textfile-collector directory of the op metrics (0700, yours)")
PROVIDER_DEBUG = Setting("GC_PROVIDER_DEBUG", "1: print a traceback with an internal error",
                         shown="unset")
# The settings both session executables read (`providers.tmux`, `protocol.locks`).
#: Pause between typing a nudge and pressing Enter, so a TUI that detects pastes by
#: timing does not swallow the Enter into the paste (Gas City uses 500 ms).
NUDGE_DEBOUNCE_MS = Setting("GC_NUDGE_DEBOUNCE_MS", "pause between typing a nudge and pressing Enter",
                            "int", default="500", what="of milliseconds")
#: Gas City kills `start` at its startup_timeout (60 s by default); finish first.
START_TIMEOUT_S = Setting("GC_START_TIMEOUT_S", "start's own time budget, under gc's startup_timeout",
                          "number", default="50", what="of seconds")
EXEC_STATE_DIR = Setting("GC_EXEC_STATE_DIR", "directory of the nudge locks",
                         shown="$XDG_RUNTIME_DIR/gc-exec-<uid>")
