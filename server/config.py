"""Project configuration: ``[tool.recode]`` in pyproject.toml, or the same keys at the top level
of ``.recode.toml`` / ``recode.toml``.

The file is found by walking up from the first path given (from the workspace folder in the
language server): in each folder ``.recode.toml``, then ``recode.toml``, then a pyproject.toml
that has a ``[tool.recode]`` table; the nearest folder that has one wins and the run uses that
file alone, as ruff does for its own settings. Relative paths in it (``python``, the
``exclude`` and ``per-file-ignores`` patterns) are taken from the file's folder. Command-line
flags (and the editor's settings) win over the file. An unknown key or a value of the wrong type
is an error naming the key and the file.
"""

from __future__ import annotations

import argparse
import enum
import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pathspec

from recode.server.detector import parse_target
from recode.server.files import Exclusion
from recode.server.selection import Selection, split_selectors
from recode.server.severity import SEVERITIES
from recode.server.suppression import Suppressor

CONFIG_FILES = (".recode.toml", "recode.toml", "pyproject.toml")  # checked in this order


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and the key."""


class Kind(enum.Enum):
    """The type a configuration key takes."""

    STRING = "a string"
    STRINGS = "a list of strings"
    BOOLEAN = "true or false"
    TABLE = "a table of lists of strings"


#: Every key, with its type. Kept as data: the error messages and the README list come from it.
KEYS: dict[str, Kind] = {
    "targets": Kind.STRINGS,
    "libraries": Kind.STRINGS,
    "select": Kind.STRINGS,
    "ignore": Kind.STRINGS,
    "exclude": Kind.STRINGS,
    "extend-exclude": Kind.STRINGS,
    "per-file-ignores": Kind.TABLE,
    "min-severity": Kind.STRING,
    "unsafe-fixes": Kind.BOOLEAN,
    "python": Kind.STRING,
    "model-url": Kind.STRING,
    "model": Kind.STRING,
}


def _type_ok(kind: Kind, value: Any) -> bool:
    if kind is Kind.STRING:
        return isinstance(value, str)
    if kind is Kind.STRINGS:
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    if kind is Kind.BOOLEAN:
        return isinstance(value, bool)
    return isinstance(value, dict) and all(_type_ok(Kind.STRINGS, v) for v in value.values())


@dataclass(frozen=True)
class ProjectConfig:
    """One configuration file, checked. A key absent from the file is None."""

    path: Path
    targets: tuple[str, ...] | None = None
    libraries: tuple[str, ...] | None = None
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] | None = None
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    min_severity: str | None = None
    unsafe_fixes: bool | None = None  # make unsafe fixes too (--unsafe-fixes)
    python: str | None = None
    model_url: str | None = None
    model: str | None = None

    @property
    def folder(self) -> Path:
        return self.path.parent

    def python_path(self) -> str | None:
        """``python`` with a relative path taken from the file's folder (a bare name such as
        ``python3`` that is not there stays a name, looked up on PATH)."""
        if self.python is None:
            return None
        value = os.path.expanduser(self.python)
        if os.path.isabs(value):
            return value
        here = self.folder / value
        if "/" not in value and os.sep not in value and not here.exists():
            return value
        return str(here)

    def selection(self) -> Selection:
        return Selection(self.select, self.ignore or ())

    @cached_property
    def per_file_suppressors(self) -> PerFileIgnores:
        """``per-file-ignores`` compiled (once: the language server asks on every change)."""
        return PerFileIgnores.of([(self.folder, p, ids) for p, ids in self.per_file_ignores])


def find_config(paths: Iterable[Path]) -> Path | None:
    """The configuration file for a run over ``paths``: the nearest one above the first path."""
    first = next(iter(paths), Path("."))
    start = Path(os.path.abspath(first))
    folders = [start, *start.parents] if start.is_dir() else list(start.parents)
    for folder in folders:
        for name in CONFIG_FILES:
            candidate = folder / name
            # os.path.isfile, not Path.is_file: a folder this user may not search raises
            # PermissionError there; the walk reports that folder, this just looks higher
            if not os.path.isfile(candidate):
                continue
            if name != "pyproject.toml" or _has_tool_recode(candidate):
                return candidate
    return None


def config_for_folder(folder: Path | None) -> ProjectConfig | None:
    """The configuration that applies in ``folder`` (the language server's workspace folder);
    :class:`ConfigError` if it cannot be used."""
    if folder is None:
        return None
    found = find_config([folder])
    return load_config(found) if found is not None else None


def _has_tool_recode(pyproject: Path) -> bool:
    try:
        data = _read_toml(pyproject)
    except ConfigError:
        return b"[tool.recode]" in pyproject.read_bytes()  # broken, but meant for us: say so
    tool = data.get("tool")
    return isinstance(tool, dict) and "recode" in tool


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def load_config(path: Path) -> ProjectConfig:
    """The checked configuration in ``path``; :class:`ConfigError` naming the bad key."""
    data = _read_toml(path)
    where = f"{path}"
    prefix = ""
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        data = tool.get("recode", {}) if isinstance(tool, dict) else {}
        prefix = "tool.recode."
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: tool.recode must be a table")
    values: dict[str, Any] = {}
    for key, value in data.items():
        kind = KEYS.get(key)
        if kind is None:
            known = ", ".join(KEYS)
            raise ConfigError(f"{where}: unknown key {prefix}{key} (known keys: {known})")
        if not _type_ok(kind, value):
            raise ConfigError(f"{where}: {prefix}{key} must be {kind.value}, got {value!r}")
        values[key.replace("-", "_")] = _checked(key, value, f"{where}: {prefix}{key}")
    return ProjectConfig(path.resolve(), **values)


def _checked(key: str, value: Any, name: str) -> Any:
    if key == "targets":
        for t in value:
            try:
                parse_target(t)
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None
    elif key == "min-severity" and value not in SEVERITIES:
        raise ConfigError(f"{name} must be one of {', '.join(SEVERITIES)}, got {value!r}")
    elif key in ("exclude", "extend-exclude"):
        _spec(value, name)
    elif key == "per-file-ignores":
        for pattern in value:
            _spec([pattern], name)
        return tuple((p, split_selectors(ids)) for p, ids in value.items())
    if isinstance(value, list):
        return tuple(value)
    return value


def _spec(patterns: Iterable[str], name: str) -> pathspec.GitIgnoreSpec:
    try:
        return pathspec.GitIgnoreSpec.from_lines(list(patterns))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}: bad pattern: {exc}") from None


@dataclass(frozen=True)
class PerFileIgnores:
    """``per-file-ignores``: gitignore-style patterns, each with the selectors it accepts."""

    rules: tuple[tuple[str, pathspec.GitIgnoreSpec, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, rules: Iterable[tuple[Path, str, tuple[str, ...]]]) -> PerFileIgnores:
        return cls(
            tuple(
                (str(base), pathspec.GitIgnoreSpec.from_lines([p]), ids) for base, p, ids in rules
            )
        )

    def suppressor(self, resolved: Path) -> Suppressor:
        """What is accepted in the file at ``resolved`` (an absolute path)."""
        ids: list[str] = []
        for base, spec, selectors in self.rules:
            rel = _relative(str(resolved), base)
            if spec.match_file(rel if rel is not None else resolved.name):
                ids.extend(selectors)
        return Suppressor(tuple(ids))


def _relative(path: str, base: str) -> str | None:
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix) :]
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


# -- the command line --------------------------------------------------------------------------

#: Command-line options whose value the configuration supplies when the flag is not given:
#: argparse leaves them None (see :func:`unset_namespace`) so "not given" can be told apart.
_FROM_CONFIG = {
    "target": "targets",
    "libraries": "libraries",
    "select": "select",
    "ignore": "ignore",
    "exclude": "exclude",
    "extend_exclude": "extend_exclude",
    "min_severity": "min_severity",
    "unsafe_fixes": "unsafe_fixes",
    "python": "python",
    "model_url": "model_url",
    "model": "model",
}


def add_arguments(parser: argparse.ArgumentParser, mode: argparse._MutuallyExclusiveGroup) -> None:
    """The command-line options of this module: rule selection, exclusion, --add-ignore."""
    mode.add_argument(
        "--add-ignore",
        dest="mode",
        action="store_const",
        const="add-ignore",
        help="accept every current finding: add a '# recode: ignore[ID]' comment for each",
    )
    rules = parser.add_argument_group(
        "rule selection and files",
        "RULES is a comma-separated list of record ids, id globs (pandas-3.0-*) and library "
        "names; PATTERNS are gitignore-style, relative to the current folder. Each flag "
        "replaces the configuration file's value.",
    )
    rules.add_argument(
        "--select", action="append", metavar="RULES", help="check only these records"
    )
    rules.add_argument("--ignore", action="append", metavar="RULES", help="never report these")
    rules.add_argument(
        "--exclude",
        action="append",
        metavar="PATTERNS",
        help="skip these files and folders when walking (replaces the default list: .git, "
        ".venv, venv, build, dist, node_modules, site-packages, ...)",
    )
    rules.add_argument(
        "--extend-exclude",
        action="append",
        metavar="PATTERNS",
        help="skip these too, besides the default list",
    )


def unset_namespace() -> argparse.Namespace:
    """A namespace for ``parse_args`` in which the options the configuration can set start as
    None: argparse then fills in only the flags given, and :func:`apply` the rest."""
    return argparse.Namespace(**dict.fromkeys(_FROM_CONFIG))


@dataclass
class RunOptions:
    """What the configuration and flags decide beyond the argparse values."""

    config: ProjectConfig | None = None
    selection: Selection = field(default_factory=Selection)
    exclusion: Exclusion | None = None  # None: the walk's default list alone
    per_file: PerFileIgnores = field(default_factory=PerFileIgnores)
    unsafe_fixes: bool = False

    def suppressor_factory(self) -> Callable[[Path], Suppressor] | None:
        """Per-file suppressors, or None when every file gets the plain one."""
        return self.per_file.suppressor if self.per_file.rules else None


def apply(parser: argparse.ArgumentParser, args: argparse.Namespace) -> RunOptions:
    """Fill the options left unset on the command line from the configuration file (found from
    ``args.paths``), then from the parser's defaults. Raises :class:`ConfigError`."""
    found = find_config(args.paths)
    config = load_config(found) if found is not None else None
    cwd = Path.cwd().resolve()
    from_config: set[str] = set()
    for dest, attr in _FROM_CONFIG.items():
        if getattr(args, dest) is not None:
            continue
        value = getattr(config, attr) if config is not None else None
        if value is None:
            setattr(args, dest, parser.get_default(dest))
            continue
        if dest in ("model_url", "model") and args.mode not in ("diff", "write"):
            setattr(args, dest, None)  # only --diff and --write use a model: no endpoint check
            continue
        from_config.add(dest)
        if dest == "python":
            value = config.python_path() if config is not None else value
        elif dest == "libraries":
            value = ",".join(value)
        elif isinstance(value, tuple):
            value = list(value)
        setattr(args, dest, value)
    options = RunOptions(config=config)
    # an empty --select "" means no restriction, not "check nothing"
    select = (split_selectors(args.select) or None) if args.select is not None else None
    options.selection = Selection(select, split_selectors(args.ignore or ()))
    config_base = config.folder if config is not None else cwd

    def base(dest: str) -> Path:
        return config_base if dest in from_config else cwd

    excludes = _patterns(args.exclude, "exclude" in from_config)
    extends = _patterns(args.extend_exclude, "extend_exclude" in from_config) or []
    if excludes is not None or extends:
        specs = []
        if excludes:
            specs.append((str(base("exclude")), _spec(excludes, "--exclude")))
        if extends:
            specs.append((str(base("extend_exclude")), _spec(extends, "--extend-exclude")))
        options.exclusion = Exclusion(defaults=excludes is None, specs=tuple(specs))
    if config is not None:
        options.per_file = config.per_file_suppressors
    options.unsafe_fixes = bool(args.unsafe_fixes)
    return options


def _patterns(values: list[str] | None, from_config: bool) -> list[str] | None:
    """Patterns from repeated flags, each a comma-separated list (a config list as it is)."""
    if values is None or from_config:
        return values
    return [p.strip() for v in values for p in v.split(",") if p.strip()]
