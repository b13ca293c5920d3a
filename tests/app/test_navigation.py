"""The menu names each page as the page titles itself."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _menu() -> dict[str, str]:
    """page file -> its name in the navigation, read from app.py's calls."""
    names = {}
    for node in ast.walk(ast.parse((ROOT / "app.py").read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            path = node.args[0].value
            if not str(path).startswith("pages/"):
                continue
            title = next((k.value.value for k in node.keywords if k.arg == "title"), None)
            names[path] = title if title is not None else node.args[1].value
    return names


def _title(path: str) -> str:
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "st.title":
            return node.args[0].value
    raise AssertionError(f"{path} has no st.title")


def test_every_page_is_in_the_menu_under_its_own_title():
    menu = _menu()
    assert len(menu) == len(list((ROOT / "pages").rglob("*.py"))), "a page is missing from app.py"
    titled = {path: _title(path) for path in menu}
    assert titled.pop("pages/home.py") == "Crossmodal Lab" and menu.pop("pages/home.py") == "Home"  # the lab's name
    assert titled == menu
