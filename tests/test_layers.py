"""Imports point down only: dataset/ at the bottom, server/ above it, training/ on top.

``recode.dataset`` (the knowledge base, the prompt, the example builder) imports neither the
server nor the training code: what the builder runs is handed in (``BuildTools``).
``recode.server`` imports no training code; training uses the server's model client
(``recode.server.model``), not the other way round. See ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: layer folder -> the packages its modules must not import
FORBIDDEN = {
    "dataset": ("recode.server", "recode.training"),
    "server": ("recode.training",),
}


def imported_modules(source: str) -> list[tuple[int, str]]:
    """Every module a source imports, with its line: ``import``, ``from ... import`` (a name
    imported from a package counts as its submodule) and ``importlib.import_module("...")``
    with a literal name, at any depth (inside functions and ``TYPE_CHECKING`` blocks too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def upward_imports(layer: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for line, module in imported_modules(path.read_text("utf-8")):
            if any(module == top or module.startswith(top + ".") for top in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_upward(layer):
    assert upward_imports(layer) == []


def test_the_check_sees_every_form_of_import():
    source = (
        "import recode.server.detector\n"
        "from recode import training\n"
        "def f():\n"
        "    from recode.server.fixes import fix_source\n"
        "    importlib.import_module('recode.training.sandbox')\n"
        "from recode.dataset.knowledge import KnowledgeBase\n"
    )
    modules = [m for _, m in imported_modules(source)]
    assert "recode.server.detector" in modules
    assert "recode.training" in modules  # from recode import training
    assert "recode.server.fixes" in modules
    assert "recode.training.sandbox" in modules
    upward = [m for m in modules if m.startswith(FORBIDDEN["dataset"])]
    assert len(upward) == 5


def test_every_subpackage_is_listed_for_installation():
    """pyproject.toml lists the packages by hand (one namespace over three folders): a
    subpackage missing there works in an editable install and is absent from a wheel."""
    import tomllib

    repo = Path(__file__).resolve().parent.parent
    config = tomllib.loads((repo / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    folders = {folder: name for name, folder in config["package-dir"].items()}
    on_disk = set()
    for folder, name in folders.items():
        for init in (repo / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(repo / folder).parts
            on_disk.add(".".join((name, *rel)))
    assert on_disk == set(config["packages"])
