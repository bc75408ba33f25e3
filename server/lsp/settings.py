"""The server's settings: the ``recode`` keys of initializationOptions and workspace/configuration.

User-facing keys (DESIGN.md): ``python`` (interpreter or venv folder), ``targets``
(``["numpy==2.0"]``), ``libraries`` (check only these), ``minSeverity``, ``modelUrl``, ``model``,
``unsafeFixes`` (``true``: the fix-all action makes unsafe fixes too; a quick fix for an unsafe fix
is offered either way, titled as unsafe). Server keys, mainly for tests and benchmarks:
``knowledgeBase`` (JSONL files or folders replacing the shipped base; also the ``RECODE_KB``
environment variable, paths joined with the OS path separator), ``debounceMs`` (delay after typing
before diagnostics), ``pollSeconds`` (how often site-packages folders are checked for changed
packages; 0 turns the poll off), ``modelCheckSeconds`` (how long the model endpoint may take to
answer the check), ``modelMaxTokens`` (the most tokens per model answer for "Migrate with the
ReCode model") and ``pushDiagnostics`` (``true``/``false`` forces push diagnostics on or off; by
default they are pushed unless the client pulls them).

Settings are layered: defaults, then the project's configuration file (``[tool.recode]`` in
pyproject.toml or a ``recode.toml``, :mod:`recode.server.config`, found from the workspace
folder), then initializationOptions, then the client's answer to ``workspace/configuration`` for
the workspace folder. A bad value is reported and replaced by the layer below, never fatal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlparse

from packaging.version import Version

from recode.server.config import ProjectConfig
from recode.server.detector import parse_target
from recode.server.severity import SEVERITIES

SECTION = "recode"
_SEVERITY_ALIASES = {"info": "information", "informational": "information"}


@dataclass(frozen=True)
class Settings:
    python: str | None = None
    targets: tuple[str, ...] = ()
    libraries: tuple[str, ...] | None = None
    min_severity: str = "hint"
    model_url: str | None = None
    model: str | None = None
    knowledge_base: tuple[str, ...] | None = None
    debounce_ms: int = 150
    poll_seconds: float = 2.0
    model_check_seconds: float = 3.0
    model_max_tokens: int = 1024
    push_diagnostics: bool | None = None
    unsafe_fixes: bool = False
    project: ProjectConfig | None = None  # its select, ignore and per-file-ignores apply too

    def target_versions(self) -> dict[str, Version]:
        return {name: lv.version for name, lv in (parse_target(t) for t in self.targets)}

    def environment_key(self) -> tuple[Any, ...]:
        """What decides the environment and detector (a change means rebuilding them)."""
        return (
            self.python,
            self.targets,
            self.libraries,
            self.min_severity,
            self.knowledge_base,
            self.project,
        )


_KEYS = {
    "python": "python",
    "targets": "targets",
    "libraries": "libraries",
    "minSeverity": "min_severity",
    "modelUrl": "model_url",
    "model": "model",
    "knowledgeBase": "knowledge_base",
    "debounceMs": "debounce_ms",
    "pollSeconds": "poll_seconds",
    "modelCheckSeconds": "model_check_seconds",
    "modelMaxTokens": "model_max_tokens",
    "pushDiagnostics": "push_diagnostics",
    "unsafeFixes": "unsafe_fixes",
}


def _str_list(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(f"{key} must be a list of strings")
    return tuple(x.strip() for x in value if x.strip())


def _convert(key: str, value: Any) -> Any:
    """Validate one raw setting; raises ValueError with a message for the user."""
    if key in ("python", "model", "modelUrl"):
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a string")
        if key == "modelUrl":
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"modelUrl must be an http(s) URL, got {value!r}")
        return value
    if key == "targets":
        if value is None:
            return ()
        targets = _str_list(value, key)
        for t in targets:
            parse_target(t)  # raises ValueError naming the bad target
        return targets
    if key in ("libraries", "knowledgeBase"):
        if value is None:
            return None
        items = _str_list(value, key)
        return items or None
    if key == "minSeverity":
        if not isinstance(value, str):
            raise ValueError("minSeverity must be a string")
        sev = _SEVERITY_ALIASES.get(value.lower(), value.lower())
        if sev not in SEVERITIES:
            raise ValueError(f"minSeverity must be one of {', '.join(SEVERITIES)}, got {value!r}")
        return sev
    if key == "modelMaxTokens":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("modelMaxTokens must be a whole number >= 1")
        return value
    if key in ("debounceMs", "pollSeconds", "modelCheckSeconds"):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{key} must be a number >= 0")
        return int(value) if key == "debounceMs" else float(value)
    if key == "pushDiagnostics":
        if value is None:
            return None
        if not isinstance(value, bool):
            raise ValueError("pushDiagnostics must be true or false")
        return value
    if key == "unsafeFixes":
        if not isinstance(value, bool):
            raise ValueError("unsafeFixes must be true or false")
        return value
    raise KeyError(key)


def section_of(raw: Any) -> Mapping[str, Any]:
    """The ``recode`` keys of a settings object, whether nested under "recode" or not."""
    if not isinstance(raw, Mapping):
        return {}
    inner = raw.get(SECTION)
    if isinstance(inner, Mapping):
        return inner
    return raw


def merge(base: Settings, raw: Any) -> tuple[Settings, list[str]]:
    """``base`` overridden by the known keys of ``raw``; the problems found on the way.

    A key that is present but invalid keeps ``base``'s value; unknown keys are ignored.
    """
    problems: list[str] = []
    changes: dict[str, Any] = {}
    for key, value in section_of(raw).items():
        attr = _KEYS.get(key)
        if attr is None:
            continue
        try:
            changes[attr] = _convert(key, value)
        except ValueError as exc:
            problems.append(f"setting recode.{key}: {exc}")
    return replace(base, **changes), problems


def with_project(base: Settings, project: ProjectConfig | None) -> Settings:
    """``base`` with the values the project's configuration file sets (the layer under the
    client's settings)."""
    if project is None:
        return base
    changes: dict[str, Any] = {"project": project}
    for attr in ("targets", "libraries", "min_severity", "model_url", "model", "unsafe_fixes"):
        value = getattr(project, attr)
        if value is not None:
            changes[attr] = value
    if project.python is not None:
        changes["python"] = project.python_path()
    return replace(base, **changes)


def defaults() -> Settings:
    """Built-in defaults, with ``RECODE_KB`` from the server's environment."""
    kb = os.environ.get("RECODE_KB")
    paths = tuple(p for p in kb.split(os.pathsep) if p) if kb else None
    return Settings(knowledge_base=paths or None)


def to_json(settings: Settings) -> dict[str, Any]:
    """Settings with their user-facing key names (for logs and tests)."""
    back = {v: k for k, v in _KEYS.items()}
    out: dict[str, Any] = {}
    for f in fields(settings):
        if f.name == "project":
            out["projectConfig"] = str(settings.project.path) if settings.project else None
            continue
        value = getattr(settings, f.name)
        out[back[f.name]] = list(value) if isinstance(value, tuple) else value
    return out
