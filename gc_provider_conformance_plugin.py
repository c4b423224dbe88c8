"""The conformance kit's pytest plugin entry (entry point ``pytest11``).

Installing the kit must never break another project's pytest: this module has a
name no other project uses, and at load time it imports only pytest and the
standard library, so a project with its own ``protocol`` or ``providers``
package starts as it always did. It registers the options and the
``gc_provider`` fixture; only when ``--gc-provider`` or ``--gc-beads`` is given
does it load the kit (``protocol.conformance.plugin``), and then from the
``protocol`` package installed beside this file, whatever else is on sys.path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

#: Our ``protocol`` package: installed beside this module (wheel and editable alike).
PACKAGE = Path(__file__).resolve().parent / "protocol"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gc-provider-conformance", "Gas City provider conformance")
    group.addoption(
        "--gc-provider",
        metavar="PATH",
        help="Run the conformance checks against this session provider executable.",
    )
    group.addoption(
        "--gc-provider-env",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="Environment for every provider op (repeatable).",
    )
    group.addoption(
        "--gc-provider-only",
        metavar="GROUP",
        action="append",
        default=[],
        help="Suite or check-ID prefix to collect (repeatable); -k narrows further.",
    )
    group.addoption(
        "--gc-provider-relative-env",
        metavar="KEY=PATH",
        action="append",
        default=[],
        help="A setting holding a path relative to the caller (GC-STRICT-ISOLATION-004; repeatable).",
    )
    group.addoption(
        "--gc-provider-caller-dir",
        metavar="DIR",
        action="append",
        default=[],
        help="Give twice: GC-STRICT-ISOLATION-004's two caller directories (default: two fresh ones).",
    )
    group.addoption(
        "--gc-provider-backing-name-command",
        metavar="CMD",
        default="",
        help="Shell command printing session $1's backing object name(s) (GC-STRICT-ISOLATION-003).",
    )
    group.addoption(
        "--gc-beads",
        metavar="PATH",
        help="Run the exec beads store checks against this executable.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """With a target given, register the kit's collector (its own configure hook then runs)."""
    if not (config.getoption("--gc-provider") or config.getoption("--gc-beads")):
        return
    kit = ours("protocol.conformance.plugin")
    if not config.pluginmanager.is_registered(kit):
        config.pluginmanager.register(kit, "gc-provider-conformance-kit")


@pytest.fixture
def gc_provider(pytestconfig: pytest.Config) -> Any:
    """A ``protocol.conformance.driver.Provider`` for ``--gc-provider`` (skips without it).

    For authors' own tests: ``gc_provider.run("is-running", name)`` calls the
    executable exactly as Gas City does and returns an ``OpResult``.
    """
    path = pytestconfig.getoption("--gc-provider")
    if not path:
        pytest.skip("no --gc-provider given")
    driver = ours("protocol.conformance.driver")
    session = ours("protocol.conformance.session")
    return driver.Provider([session.resolve(path)], session.parse_env(pytestconfig.getoption("--gc-provider-env")))


def ours(module: str) -> Any:
    """``module`` from our ``protocol`` package, never from another project's of that name.

    ``protocol`` is bound to the package beside this file before anything imports it; if
    another ``protocol`` was imported first, the kit cannot run in this process: one line.
    """
    loaded = sys.modules.get("protocol")
    if loaded is None:
        spec = importlib.util.spec_from_file_location(
            "protocol", PACKAGE / "__init__.py", submodule_search_locations=[str(PACKAGE)])
        if spec is None or spec.loader is None or not (PACKAGE / "__init__.py").is_file():
            raise pytest.UsageError(f"--gc-provider: the kit's package is missing at {PACKAGE} (reinstall it)")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules["protocol"] = loaded
        spec.loader.exec_module(loaded)
    elif Path(loaded.__file__ or "").resolve().parent != PACKAGE:
        raise pytest.UsageError(
            f"--gc-provider: this project's own 'protocol' package ({loaded.__file__}) is already "
            f"imported, and the kit needs its own ({PACKAGE}); run the kit as "
            "`gc-provider-conformance <provider>` instead")
    return importlib.import_module(module)
