"""Fixtures of the language-server tests (helpers in support.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.model.support import notes_server

from .support import FakeEnv


@pytest.fixture
def make_env(tmp_path: Path) -> Callable[..., FakeEnv]:
    def make(name: str = "venv", **packages: str) -> FakeEnv:
        return FakeEnv(tmp_path / name, {k.replace("_", "-"): v for k, v in packages.items()})

    return make


@pytest.fixture
def notes_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The server's environment: release notes (what the model engine reads before asking the
    model) from a local server, cached under tmp_path."""
    with notes_server() as server:
        yield {
            **os.environ,
            "RECODE_PYPI_URL": server.pypi,
            "RECODE_GITHUB_API_URL": server.github,
            "RECODE_CACHE_DIR": str(tmp_path / "cache"),
        }
