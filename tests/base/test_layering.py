"""The layers stay apart: nothing directly in ``core/`` imports a method package, and a method's pages and ui
modules import no other method's. Sources are read with ``ast``, never imported, so every import counts, one
inside a function too.

The base may name methods only as module-name strings loaded with ``importlib`` in a registry
(``core/cli.py``'s ``METHODS``, ``core/reproduce.py``'s ``PAPERS``); a page outside a method's folder
(``pages/home.py``) may import any method.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REGISTRIES = ("cli.py", "reproduce.py")
"""Modules of the base that may load a method by its name through importlib."""


def _methods() -> tuple[str, ...]:
    """The method packages, read from ``core/cli.py``'s ``METHODS`` ("core.<method>.cli", one per method)."""
    tree = ast.parse((ROOT / "core" / "cli.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "METHODS" for t in node.targets):
            return tuple(name.split(".")[1] for name in ast.literal_eval(node.value))
    raise AssertionError("core/cli.py has no METHODS tuple")


METHODS = _methods()


def _named(node: ast.AST, package: str, by_name: bool) -> list[str]:
    """The modules a statement imports (``from a import b`` names ``a`` and ``a.b``: b may be a module; a
    relative import is resolved against ``package``), or, with ``by_name``, the string given to
    ``importlib.import_module`` / ``__import__``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1]
            module = ".".join([*base, node.module] if node.module else base)
        else:
            module = node.module or ""
        return [module, *(f"{module}.{alias.name}" for alias in node.names)]
    if by_name and isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def offences(source: str, shown: str, package: str, forbidden: list[str], by_name: bool = True) -> list[str]:
    """``file:line: statement`` for every statement of ``source`` that imports a module in ``forbidden``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        named = _named(node, package, by_name)
        if any(m == p or m.startswith(p + ".") for m in named for p in forbidden):
            found.append((node.lineno, f"{shown}:{node.lineno}: {ast.get_source_segment(source, node)}"))
    return [text for _, text in sorted(found)]


def _check(path: Path, forbidden: list[str], by_name: bool = True) -> list[str]:
    relative = path.relative_to(ROOT)
    package = ".".join(relative.parent.parts)
    return offences(path.read_text(encoding="utf-8"), str(relative), package, forbidden, by_name)


def test_every_method_has_a_package():
    assert METHODS, "core/cli.py's METHODS names no method"
    for method in METHODS:
        assert (ROOT / "core" / method / "__init__.py").is_file(), f"core/{method}/ is not a package"


def test_the_shared_base_imports_no_method():
    forbidden = [f"core.{m}" for m in METHODS]
    found = []
    for path in sorted((ROOT / "core").glob("*.py")):
        found += _check(path, forbidden, by_name=path.name not in REGISTRIES)
    assert not found, "the shared base (core/*.py) imports a method package:\n" + "\n".join(found)


@pytest.mark.parametrize("method", METHODS)
def test_a_methods_pages_and_ui_import_no_other_method(method):
    others = [f"{layer}.{m}" for m in METHODS if m != method for layer in ("core", "ui")]
    found = []
    for folder in (ROOT / "pages" / method, ROOT / "ui" / method):
        for path in sorted(folder.rglob("*.py")):
            found += _check(path, others)
    assert not found, f"pages/{method}/ or ui/{method}/ imports another method:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("import core.text_to_image.classify\n", 1),
        ("from core.text_to_image import classify\n", 1),
        ("from core import text_to_image\n", 1),
        ("import os\n\n\ndef f():\n    from core.text_to_image.backbones import available_backbones\n", 5),
        ("from . import text_to_image\n", 1),
        ("import importlib\nimportlib.import_module('core.text_to_image.cli')\n", 2),
    ],
)
def test_the_check_sees_every_way_of_importing(source, line):
    found = offences(source, "core/sample.py", "core", ["core.text_to_image"])
    assert len(found) == 1 and found[0].startswith(f"core/sample.py:{line}: "), found


def test_the_check_leaves_other_imports_and_mere_mentions_alone():
    source = "from core import store\nimport core.textures\nMESSAGE = 'see core.text_to_image.classify'\n"
    assert offences(source, "core/sample.py", "core", ["core.text_to_image"]) == []
    relative = offences("from ..hybrid import panels\n", "ui/nontext/x.py", "ui.nontext", ["ui.hybrid"])
    assert relative == ["ui/nontext/x.py:1: from ..hybrid import panels"]
