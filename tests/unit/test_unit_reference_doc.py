"""docs/reference.md's operation and settings tables are the code's, and the table lists every setting read.

Each executable's operation table (the dispatch table) and its settings table
(`protocol.settings` rows, from which its ``--help`` prints the ``settings`` section)
are the source of truth. docs/reference.md holds a generated copy of both between
``<!-- reference:<exe> -->`` markers; run this file with ``--write`` to refresh them
after changing an operation or a setting. A setting read by the code (a ``"GC_…"``
literal in the executable's modules) that is neither in its table nor provided by
Gas City itself fails here.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocol.settings import Setting

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "docs" / "reference.md"


class Exe(NamedTuple):
    name: str
    module: str
    table: str
    #: The module holding its settings table (``TABLE``).
    settings: str
    #: Source files whose ``"GC_…"`` literals are this executable's settings.
    sources: tuple[str, ...]


EXECUTABLES = (
    Exe("gc-session-tmux", "providers.gc_session_tmux.cli", "OPERATIONS", "providers.gc_session_tmux.settings",
        ("providers/gc_session_tmux/*.py", "providers/tmux/*.py", "protocol/dispatch.py", "protocol/locks.py",
         "protocol/proc.py", "protocol/settings.py")),
    Exe("gc-session-k8s", "gc_session_k8s.cli", "OPERATIONS", "gc_session_k8s.settings",
        ("gc_session_k8s/*.py", "gc_session_k8s/pod/*.py", "providers/tmux/*.py", "providers/kube/*.py",
         "providers/kube/transport/*.py",
         "protocol/dispatch.py", "protocol/locks.py", "protocol/settings.py")),
    Exe("gc-beads-k8s", "gc_beads_k8s.cli", "TABLE", "gc_beads_k8s.settings",
        ("gc_beads_k8s/*.py", "providers/kube/kubectl.py", "providers/kube/pod_exec.py",
         # the transports, less kubeconfig's list of the path settings a helper's client may pass
         "providers/kube/transport/[!k]*.py",
         "providers/kube/settings.py", "providers/kube/retry.py", "providers/kube/client.py",
         "protocol/dispatch.py")),
)

#: Set by Gas City itself (per session, per city or per call), not by the operator.
PROVIDED_BY_GC = frozenset({
    "GC_AGENT", "GC_ALIAS", "GC_BEADS", "GC_BEADS_PREFIX", "GC_BIN", "GC_CITY", "GC_CITY_PATH",
    "GC_CITY_ROOT", "GC_CITY_RUNTIME_DIR", "GC_DIR", "GC_EVENTS", "GC_INSTANCE_TOKEN", "GC_MAIL",
    "GC_MCP_MAIL_PROJECT", "GC_MCP_MAIL_URL", "GC_PACK_DIR", "GC_PACK_STATE_DIR", "GC_PROVIDER",
    "GC_READY_PROMPT_PREFIX", "GC_RIG", "GC_RIG_ROOT", "GC_SESSION", "GC_SESSION_ID", "GC_STORE_ROOT",
    "GC_STORE_SCOPE", "GC_TMUX_SESSION", "GC_DOLT_HOST", "GC_DOLT_PORT", "GC_DOLT_USER", "GC_DOLT_PASSWORD",
    "GC_BEADS_API",  # the beads API's URL in the start env (env.ledger)
})

#: Set by our executables in the pods they make (the downward API), never by the operator.
SET_IN_PODS = frozenset({"GC_K8S_POD_SESSION", "GC_BEADS_CITY_PATH",
                         "GC_K8S_EXEC_ID"})  # the helper's mark on what an exec starts


def settings_of(exe: Exe) -> dict[str, Setting]:
    """The executable's settings table."""
    table: dict[str, Setting] = importlib.import_module(exe.settings).TABLE
    return table


def cell(text: str) -> str:
    """Markdown table text: ``|`` escaped, ``<…>`` kept visible (not read as HTML)."""
    return text.replace("|", "\\|").replace("<", "&lt;")


def code(text: str) -> str:
    """A code span in a table cell: ``|`` escaped; no entities, which a code span shows literally."""
    return "`" + text.replace("|", "\\|") + "`"


def reference(exe: Exe) -> str:
    """The reference block for ``exe``: its operations, then its settings."""
    from protocol.dispatch import usage_of

    module = importlib.import_module(exe.module)
    lines = [f"<!-- reference:{exe.name} (generated: python tests/unit/test_unit_reference_doc.py --write) -->",
             "", "| operation | arguments | stdin | what it does |", "|---|---|---|---|"]
    for op, spec in getattr(module, exe.table).items():
        args = usage_of(spec.args)
        lines.append(f"| {code(op)} | {code(args) if args else ''} | {cell(spec.stdin)} | {cell(spec.summary)} |")
    lines += ["", "| setting | default | valid values | what it sets |", "|---|---|---|---|"]
    lines += [f"| {code(s.name)} | {code(s.default_text)} | {cell(s.valid() or 'any')} | {cell(s.help)} |"
              for s in settings_of(exe).values()]
    lines += ["", "<!-- /reference -->"]
    return "\n".join(lines)


def doc_block(text: str, exe: Exe) -> str:
    start = text.index(f"<!-- reference:{exe.name} ")
    end = text.index("<!-- /reference -->", start) + len("<!-- /reference -->")
    return text[start:end]


@pytest.mark.parametrize("exe", EXECUTABLES, ids=[e.name for e in EXECUTABLES])
def test_reference_tables_match_the_code(exe: Exe) -> None:
    want = reference(exe)
    assert doc_block(REFERENCE.read_text(), exe) == want, (
        "docs/reference.md out of date: run python tests/unit/test_unit_reference_doc.py --write")


def read_settings(exe: Exe) -> set[str]:
    names: set[str] = set()
    for pattern in exe.sources:
        for path in REPO.glob(pattern):
            names |= set(re.findall(r"[\"'](GC_[A-Z0-9_]+)[\"']", path.read_text()))
    return names - PROVIDED_BY_GC - SET_IN_PODS


@pytest.mark.parametrize("exe", EXECUTABLES, ids=[e.name for e in EXECUTABLES])
def test_help_lists_every_setting_the_code_reads(exe: Exe) -> None:
    assert read_settings(exe) - set(settings_of(exe)) == set()


@pytest.mark.parametrize("exe", EXECUTABLES, ids=[e.name for e in EXECUTABLES])
def test_every_setting_in_the_help_is_read_by_the_code(exe: Exe) -> None:
    code = "".join(path.read_text() for pattern in exe.sources for path in REPO.glob(pattern))
    assert {name for name in settings_of(exe) if f'"{name}"' not in code and f"'{name}'" not in code} == set()


@pytest.mark.parametrize("exe", EXECUTABLES, ids=[e.name for e in EXECUTABLES])
def test_the_help_prints_the_settings_table(exe: Exe) -> None:
    from protocol.settings import help_section

    assert importlib.import_module(exe.module).ABOUT.endswith("\n\n" + help_section(settings_of(exe)))


class Default(NamedTuple):
    exe: str
    setting: str
    code: str


def code_defaults() -> list[Default]:
    """Defaults as the code holds them, for the settings whose default is a plain value."""
    from gc_beads_k8s.config import DEFAULT_DOLT_HOST, DEFAULT_DOLT_PORT, RunnerConfig
    from gc_session_k8s.settings import Settings
    from providers.gc_session_tmux.sockets import DEFAULT_NAME
    from providers.kube import retry
    from providers.kube.settings import KubeSettings
    from providers.kube.transport import answers, helper

    k8s, kube, beads = Settings.from_env({}), KubeSettings.from_env({}), RunnerConfig.from_env({})
    return [
        Default("gc-session-tmux", "GC_TMUX_SOCKET", DEFAULT_NAME),
        Default("gc-session-k8s", "GC_K8S_NAMESPACE", kube.namespace),
        Default("gc-session-k8s", "GC_KUBECTL", kube.kubectl),
        Default("gc-session-k8s", "GC_K8S_REQUEST_TIMEOUT", f"{kube.request_timeout:g}"),
        Default("gc-session-k8s", "GC_K8S_CPU_REQUEST", k8s.cpu_request),
        Default("gc-session-k8s", "GC_K8S_MEM_REQUEST", k8s.mem_request),
        Default("gc-session-k8s", "GC_K8S_CPU_LIMIT", k8s.cpu_limit),
        Default("gc-session-k8s", "GC_K8S_MEM_LIMIT", k8s.mem_limit),
        Default("gc-session-k8s", "GC_K8S_DOLT_HOST", k8s.dolt_host),
        Default("gc-session-k8s", "GC_K8S_DOLT_PORT", k8s.dolt_port),
        Default("gc-session-k8s", "GC_K8S_MCP_MAIL_HOST", k8s.mail_host),
        Default("gc-session-k8s", "GC_K8S_MCP_MAIL_PORT", k8s.mail_port),
        Default("gc-session-k8s", "GC_K8S_INIT_GRACE_S", f"{k8s.init_grace_s:g}"),
        Default("gc-session-k8s", "GC_K8S_RETRY_BACKOFF", ",".join(f"{p:g}" for p in retry.BACKOFF)),
        Default("gc-session-k8s", "GC_K8S_HELPER_IDLE", f"{helper.DEFAULT_IDLE_EXIT:g}"),
        Default("gc-session-k8s", "GC_K8S_HELPER_CACHE_MS", str(answers.DEFAULT_TTL_MS)),
        Default("gc-beads-k8s", "GC_K8S_NAMESPACE", kube.namespace),
        Default("gc-beads-k8s", "GC_BEADS_BD", beads.bd),
        Default("gc-beads-k8s", "GC_K8S_BEADS_WORKSPACE", beads.workspace),
        Default("gc-beads-k8s", "GC_K8S_RUNNER_UID", str(beads.uid)),
        Default("gc-beads-k8s", "GC_K8S_RUNNER_GID", str(beads.gid)),
        Default("gc-beads-k8s", "GC_K8S_BEADS_CPU_REQUEST", beads.cpu_request),
        Default("gc-beads-k8s", "GC_K8S_BEADS_MEM_REQUEST", beads.mem_request),
        Default("gc-beads-k8s", "GC_K8S_BEADS_CPU_LIMIT", beads.cpu_limit),
        Default("gc-beads-k8s", "GC_K8S_BEADS_MEM_LIMIT", beads.mem_limit),
        Default("gc-beads-k8s", "GC_K8S_DOLT_HOST", DEFAULT_DOLT_HOST),
        Default("gc-beads-k8s", "GC_K8S_DOLT_PORT", DEFAULT_DOLT_PORT),
    ]


def test_defaults_in_the_help_are_the_codes() -> None:
    helps = {e.name: {s.name: s.default_text for s in settings_of(e).values()} for e in EXECUTABLES}
    wrong = [d for d in code_defaults() if helps[d.exe].get(d.setting) != d.code]
    assert wrong == []


def write() -> None:
    text = REFERENCE.read_text()
    for exe in EXECUTABLES:
        text = text.replace(doc_block(text, exe), reference(exe))
    REFERENCE.write_text(text)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    if sys.argv[1:] == ["--write"]:
        write()
