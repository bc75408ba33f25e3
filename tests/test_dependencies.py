"""Every third-party import is declared in pyproject.toml, where its layer gets it (deptry's
rule): a package that arrives only through another one can vanish with that one's next release.

Each module's imports are read with ast and mapped to the distributions that install them
(``importlib.metadata.packages_distributions``). The editor side (server/) may import at module
level only the base dependencies, so that ``pip install recode-migrate`` runs the CLI and the
language server; the training and dataset code get their extras too.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

#: folder or file -> the extras its deferred imports may come from (the most specific entry wins)
LAYER_EXTRAS: dict[str, tuple[str, ...]] = {
    "server": (),
    # the in-process transformers backend, imported only when that backend is asked for
    "server/model/backends.py": ("training",),
    "dataset": ("dataset",),
    "training": ("training", "eval", "gpu", "dataset"),
}
FIRST_PARTY = {"recode", "tests", "__future__"}
#: programs the sandbox runs under another environment (a release being proven), whose own
#: packages they read: not imports of recode's
RUN_ELSEWHERE = {"training/fix_proof_show.py"}


def declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]

    def names(reqs: list[str]) -> set[str]:
        return {canonicalize_name(Requirement(r).name) for r in reqs}

    extras = {k: names(v) for k, v in project.get("optional-dependencies", {}).items()}
    return names(project["dependencies"]), extras


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(top-level module, line, deferred): deferred inside a function or ``if TYPE_CHECKING``."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((a.name.split(".")[0], child.lineno, deferred) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module.split(".")[0], child.lineno, deferred))
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            visit(child, deferred or inner)

    visit(ast.parse(path.read_text("utf-8"), str(path)), False)
    return found


def layer_extras(rel: str) -> tuple[str, ...]:
    best = max((k for k in LAYER_EXTRAS if rel == k or rel.startswith(k + "/")), key=len)
    return LAYER_EXTRAS[best]


def provides(dist: str, module: str, providers: set[str]) -> bool:
    """Whether declared ``dist`` installs ``module``: itself, or as a meta-package pinning the
    distribution that does exactly (griffe 2 installs the ``griffe`` module from griffelib)."""
    if dist in providers:
        return True
    try:
        requires = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        return False
    for text in requires:
        req = Requirement(text)
        pinned = any(s.operator in ("==", "===") for s in req.specifier)
        if pinned and req.marker is None and canonicalize_name(req.name) in providers:
            return True
    return False


def test_every_third_party_import_is_declared_in_its_layer():
    base, extras = declared()
    every = base.union(*extras.values())
    distributions = metadata.packages_distributions()
    problems = []
    for layer in ("server", "dataset", "training"):
        for path in sorted((REPO / layer).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel in RUN_ELSEWHERE:
                continue
            for module, line, deferred in imports(path):
                if module in sys.stdlib_module_names or module in FIRST_PARTY:
                    continue
                providers = {canonicalize_name(d) for d in distributions.get(module, [])}
                allowed = set(base)
                if deferred or layer != "server":
                    allowed.update(*(extras[e] for e in layer_extras(rel)))
                if not providers:  # not installed here (vllm on a CPU machine): by its name
                    providers = {canonicalize_name(module)}
                    if providers & every:
                        continue
                if not any(provides(d, module, providers) for d in allowed):
                    where = "the base dependencies" + (
                        " (a module-level import of the editor side)"
                        if layer == "server" and not deferred
                        else "".join(f" or extra {e!r}" for e in layer_extras(rel))
                    )
                    problems.append(
                        f"{rel}:{line}: `{module}` (from {', '.join(sorted(providers))}) is not"
                        f" declared in {where}"
                    )
    assert not problems, "\n".join(problems)
