"""The `start` (and `provision`) configuration: one parser, one frozen value.

Gas City sends compact JSON from Go's `json.Marshal`; every field is optional
and unknown keys are ignored (a newer gc may send more). A field of the wrong
type is a `UsageError` (exit 1). Handlers never see the raw dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

import orjson

from protocol.errors import UsageError


class CopyEntryWire(TypedDict, total=False):
    src: str
    rel_dst: str


class StartConfigWire(TypedDict, total=False):
    """The JSON object on `start`'s stdin, exactly as Gas City encodes it."""

    work_dir: str
    command: str
    lifecycle: str
    env: dict[str, str]
    process_names: list[str]
    nudge: str
    ready_prompt_prefix: str
    ready_delay_ms: int
    pre_start: list[str]
    session_setup: list[str]
    session_setup_script: str
    session_live: list[str]
    pack_overlay_dirs: list[str]
    overlay_dir: str
    copy_files: list[CopyEntryWire]
    prompt_suffix: str
    prompt_flag: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyEntry:
    src: str
    rel_dst: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartConfig:
    """What a session is started with. Empty strings and lists mean "not given"."""

    work_dir: str = ""
    command: str = ""
    #: ``"one_shot"``: bounded work that exits; no persistent process is required.
    lifecycle: str = ""
    #: An empty value means "unset this variable" in the session.
    env: dict[str, str] = field(default_factory=dict)
    process_names: tuple[str, ...] = ()
    nudge: str = ""
    ready_prompt_prefix: str = ""
    ready_delay_ms: int = 0
    pre_start: tuple[str, ...] = ()
    session_setup: tuple[str, ...] = ()
    session_setup_script: str = ""
    session_live: tuple[str, ...] = ()
    pack_overlay_dirs: tuple[str, ...] = ()
    overlay_dir: str = ""
    copy_files: tuple[CopyEntry, ...] = ()
    #: Not sent by Gas City today (its prompt is dropped for exec providers);
    #: honoured if a future caller sends it.
    prompt_suffix: str = ""
    prompt_flag: str = ""

    @property
    def set_env(self) -> dict[str, str]:
        """Variables with a value (sorted, as tmux receives them)."""
        return {k: v for k, v in sorted(self.env.items()) if v != ""}

    @property
    def unset_env(self) -> list[str]:
        return sorted(k for k, v in self.env.items() if v == "")

    @property
    def has_hints(self) -> bool:
        """Does start need to do more than create the session?"""
        return bool(self.process_names or self.ready_prompt_prefix or self.ready_delay_ms
                    or self.nudge or self.session_setup or self.session_setup_script
                    or self.session_live)


STRINGS = ("work_dir", "command", "lifecycle", "nudge", "ready_prompt_prefix",
           "session_setup_script", "overlay_dir", "prompt_suffix", "prompt_flag")
LISTS = ("process_names", "pre_start", "session_setup", "session_live", "pack_overlay_dirs")


def _string(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UsageError(f"start config: {name} must be a string, not {type(value).__name__}")
    if "\0" in value:
        raise UsageError(f"start config: {name} contains a NUL byte, which no path, command "
                         "or terminal can carry")
    return value


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"start config: {name} must be a list of strings")
    return tuple(_string(f"{name}[{i}]", v) for i, v in enumerate(value))


def _env(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError("start config: env must be an object of strings")
    env: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise UsageError(f"start config: env[{key!r}] must be a string")
        if "\0" in key:
            raise UsageError(f"start config: env key {key!r} contains a NUL byte")
        if not key or "=" in key:
            raise UsageError(f"start config: invalid environment variable name {key!r}")
        if "\0" in item:
            raise UsageError(f"start config: env[{key!r}] contains a NUL byte")
        env[key] = item
    return env


def _copy_files(value: Any) -> tuple[CopyEntry, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise UsageError("start config: copy_files must be a list")
    entries = []
    for item in value:
        if not isinstance(item, dict):
            raise UsageError("start config: copy_files entries must be objects")
        entries.append(CopyEntry(src=_string("copy_files.src", item.get("src")),
                                 rel_dst=_string("copy_files.rel_dst", item.get("rel_dst"))))
    return tuple(entries)


def parse_start_config(raw: bytes) -> StartConfig:
    """Parse `start`'s stdin. Empty input is an empty config."""
    if not raw.strip():
        return StartConfig()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise UsageError(f"start config is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise UsageError("start config must be a JSON object")
    delay = data.get("ready_delay_ms")
    if delay is None:
        delay = 0
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise UsageError("start config: ready_delay_ms must be a non-negative integer")
    strings = {name: _string(name, data.get(name)) for name in STRINGS}
    lists = {name: _strings(name, data.get(name)) for name in LISTS}
    return StartConfig(
        **strings,  # type: ignore[arg-type]  # keys are exactly STRINGS
        **lists,  # type: ignore[arg-type]  # keys are exactly LISTS
        env=_env(data.get("env")),
        ready_delay_ms=delay,
        copy_files=_copy_files(data.get("copy_files")),
    )
