"""Our packages use the standard library's public modules only.

A module of the standard library whose name starts with ``_`` (``_ssl``, ``_json``,
``_socket``…) is CPython's implementation, free to change in any release; one Python
update could break every op that leaned on it. ``__future__`` is public.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("protocol", "providers", "gc_session_k8s", "gc_beads_k8s")


def private_stdlib_imports(tree: ast.AST) -> list[str]:
    """The underscore modules of the standard library a module imports, anywhere in it."""
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                   or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"))):
            names = [node.args[0].value]
        for name in names:
            top = name.split(".")[0]
            if top.startswith("_") and top != "__future__" and top in sys.stdlib_module_names:
                found.append(name)
    return found


def test_the_check_sees_each_way_of_importing_a_private_module() -> None:
    source = ("import _ssl\nfrom _json import make_scanner\nimport os, _socket\n"
              "import importlib\nimportlib.import_module('_posixsubprocess')\n"
              "from __future__ import annotations\nimport ssl\n")
    assert private_stdlib_imports(ast.parse(source)) == ["_ssl", "_json", "_socket",
                                                        "_posixsubprocess"]


def test_no_module_of_ours_imports_a_private_stdlib_module() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            offenders += [f"{path.relative_to(REPO)}: {name}" for name in private_stdlib_imports(tree)]
    assert not offenders, offenders
