"""The tools the dataset builder runs, wired from the layers above it, and ``recode-dataset``.

:mod:`recode.dataset.build` sits in the bottom layer and imports nothing above it; it is handed
a :class:`~recode.dataset.build.BuildTools`. This module, in the top layer (it may import the
server and the training code), builds the real one: the detector and the mechanical fixes
(:mod:`recode.server.detector`, :mod:`recode.server.fixes`), the sandbox
(:mod:`recode.training.sandbox`) and the OpenAI-compatible client of a teacher model
(:mod:`recode.server.model.backends`). ``recode-dataset`` runs :func:`main`, which hands them
to :func:`recode.dataset.cli.main`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from recode.dataset.build import FAR_FUTURE, BuildTools, Chat, Detecting
from recode.dataset.knowledge import KnowledgeBase

__all__ = ["build_tools", "main"]


def detector(kb: KnowledgeBase) -> Detecting:
    """A detector applying every record of ``kb``, every library at a far-future version."""
    from recode.server.detector import Detector
    from recode.server.severity import LibraryVersion

    versions = {lib: LibraryVersion(FAR_FUTURE, "target") for lib in kb.libraries()}
    return Detector(kb, versions, min_severity="hint")


def fix(source: bytes, found_by: Detecting) -> bytes | None:
    """The source with the mechanical fixes of ``found_by``'s findings, or None if none applied."""
    from recode.server.detector import Detector
    from recode.server.fixes import fix_source

    assert isinstance(found_by, Detector)
    result = fix_source(source, found_by, unsafe=True)  # an unsafe fix too: the builder runs
    # what it writes, and an example a fix of either kind produces is the fixes' job
    return result.source if result.fixed else None


def run(
    code: str,
    python: str,
    timeout_s: float,
    env: Mapping[str, str],
    *,
    read_paths: Sequence[str] = (),
    max_output_bytes: int | None = None,
) -> Any:
    """``code`` in the sandbox under ``python``, without a memory limit (an old release's
    import may map more than any sensible one); ``read_paths`` are readable there too (a
    probe's venv), ``max_output_bytes`` raises the output kept."""
    from recode.training.sandbox import SandboxLimits, run_python

    limits = SandboxLimits(time_s=timeout_s, memory_mb=None)
    if max_output_bytes is not None:
        limits = dataclasses.replace(limits, max_output_bytes=max_output_bytes)
    return run_python(code, limits, python=python, env=env, read_paths=read_paths)


def chat(url: str, model: str, *, api_key: str | None = None, timeout: float = 120.0) -> Chat:
    """A teacher's chat client: the key is ``api_key``, else ``OPENAI_API_KEY`` (a teacher is
    often a hosted model), else the backend's own ``RECODE_MODEL_API_KEY``. A failed request
    answers None."""
    from recode.server.model.backends import BackendError, GenerationSettings, OpenAIBackend

    key = api_key or os.environ.get("OPENAI_API_KEY")
    backend = OpenAIBackend(url, model, api_key=key, timeout=timeout, mode="chat")

    def ask(messages: list[dict[str, str]], max_tokens: int) -> str | None:
        settings = GenerationSettings(n=1, max_tokens=max_tokens, temperature=0.0)
        try:
            return backend.generate(messages, settings)[0].text
        except (BackendError, IndexError):
            return None

    return ask


def build_tools() -> BuildTools:
    return BuildTools(detector=detector, fix=fix, run=run, chat=chat)


def main(argv: Sequence[str] | None = None) -> int:
    """``recode-dataset``: :func:`recode.dataset.cli.main` with the real tools."""
    from recode.dataset.cli import main as dataset_main

    return dataset_main(None if argv is None else list(argv), tools=build_tools())


if __name__ == "__main__":
    raise SystemExit(main())
