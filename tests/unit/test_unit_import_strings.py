"""Shared code never imports an executable's package by a string.

``providers/`` is shared by the executables; an ``importlib``/``__import__`` string naming
`gc_session_k8s`, `gc_beads_k8s` or `providers.gc_session_tmux` would make it depend on
one of them where neither the import graph nor ``lint-imports`` can see it. The
executable that needs shared code to call back into it hands it the callable.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: The executables' own packages.
EXECUTABLES = ("gc_session_k8s", "gc_beads_k8s", "providers.gc_session_tmux")


def imports_by_name(tree: ast.AST) -> bool:
    """Does the module import anything by a string (``importlib``, ``__import__``)?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "importlib"
                                                for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "importlib":
            return True
        if isinstance(node, ast.Name) and node.id == "__import__":
            return True
    return False


def executable_names(tree: ast.AST) -> list[str]:
    """The string constants of a module that name an executable's package or a module in it."""
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and any(node.value == exe or node.value.startswith(exe + ".") for exe in EXECUTABLES)]


def test_the_string_check_sees_each_way_of_importing_by_name() -> None:
    for source in ("import importlib\nimportlib.import_module('gc_session_k8s.answer')\n",
                   "from importlib import import_module\nOK = {'gc_beads_k8s.cli'}\n",
                   "m = __import__('providers.gc_session_tmux.cli')\n"):
        tree = ast.parse(source)
        assert imports_by_name(tree) and executable_names(tree), source
    assert not executable_names(ast.parse("'gc_session_k8s/hot.py'; 'gc_session_k8sx'"))


def test_no_shared_module_imports_an_executables_package_by_a_string() -> None:
    offenders = []
    for path in sorted((REPO / "providers").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        if module.startswith("providers.gc_session_tmux."):
            continue  # an executable's own package may name itself
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if imports_by_name(tree):
            offenders += [f"{module}: {name!r}" for name in executable_names(tree)]
    assert not offenders, offenders
