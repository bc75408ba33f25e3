"""Training data: ReCode-format rows from JSONL files and the knowledge base, split by update.

A row is the ReCode example format (:class:`~recode.dataset.prompt.ReCodeExample`:
``dependency, new_version, update_info, old_code, new_code``) plus ``update_id``, the API update
it belongs to (a knowledge-base record id, a file's own ``update_id`` column, or else a hash of
dependency, version and update text), and ``source`` (``file:line``).

* :func:`kb_rows` turns every knowledge-base record's ``examples`` into rows, the record's
  ``note`` as the update text; :func:`read_recode_jsonl` / :func:`write_recode_jsonl` read and
  write the JSONL form the dataset builders produce.
* :func:`split_by_update` holds out whole updates, never single rows: two examples of one API
  change on both sides would let validation reward memorisation.
* :func:`mark_exact_fixes` and :func:`keep_exact_fixes`: a row an exact (mechanical) fix
  produces (``exact_fix``, as the dataset builder marks it; knowledge-base examples and unmarked
  rows are marked with today's fixes) is a template's job, not the model's; training keeps only
  a share of them (``TrainConfig.exact_fix_keep_fraction``, none by default).
* :func:`to_dataset` renders the shared prompt through the tokenizer's chat template with the
  assistant turn prefilled with ``"<think>"`` (:func:`~recode.dataset.prompt.render_prompt`), so
  TRL sees plain-text prompts and completions are exactly the text after the prefill, as the
  rewards expect.
* CodeUpdateArena is the held-out test of the method and must never be trained on:
  :func:`refuse_arena_path` refuses its files by name and location, and :func:`arena_reason`
  refuses rows by content (arena's own fields and ids, its monkey-patching ``setattr(...,
  'old_...')`` idiom, and, when the arena file can be found, fingerprints of its update texts,
  implementations and reference solutions), so a converted copy is caught too.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from recode.dataset.prompt import (
    THINK_PREFILL,
    ChatTemplater,
    ReCodeExample,
    build_messages,
    render_prompt,
)

__all__ = [
    "ArenaDataError",
    "DataError",
    "Split",
    "arena_reason",
    "collect_rows",
    "is_arena_path",
    "kb_rows",
    "keep_exact_fixes",
    "mark_exact_fixes",
    "read_recode_jsonl",
    "refuse_arena_path",
    "split_by_update",
    "sft_target",
    "to_dataset",
    "update_key",
    "write_recode_jsonl",
]

FIELDS = ("dependency", "new_version", "update_info", "old_code", "new_code")
ARENA_ENV = "RECODE_CODEUPDATEARENA"


class DataError(ValueError):
    """Training data that cannot be used (unreadable, malformed)."""


class ArenaDataError(DataError):
    """Data that is, or comes from, CodeUpdateArena: the held-out test set."""


# ---------------------------------------------------------------------------------------------
# Rows


def update_key(row: Mapping[str, Any]) -> str:
    """The update a row belongs to: its ``update_id``, else a hash of what defines the update.

    >>> a = {"dependency": "numpy", "new_version": "2.0", "update_info": "float_ removed"}
    >>> update_key(a) == update_key({**a, "old_code": "x", "new_code": "y"})
    True
    >>> update_key({**a, "update_id": "numpy-2.0-float_"})
    'numpy-2.0-float_'
    """
    explicit = row.get("update_id")
    if isinstance(explicit, str) and explicit.strip():
        return explicit.strip()
    text = "\x00".join(
        " ".join(str(row.get(name, "")).split())
        for name in ("dependency", "new_version", "update_info")
    )
    return "sha1:" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _row(example: ReCodeExample, update_id: str, source: str) -> dict[str, Any]:
    return {**example.to_dict(), "update_id": update_id, "source": source}


def kb_rows(kb: Any) -> list[dict[str, Any]]:
    """One row per example of every knowledge-base record (``kb``: a ``KnowledgeBase``)."""
    rows = []
    for record in kb.records:
        version = record.display_version
        for ex in record.examples:
            example = ReCodeExample(
                dependency=record.library,
                new_version=f"=={version}" if version != "?" else version,
                update_info=record.note,
                old_code=ex.old,
                new_code=ex.new,
            )
            rows.append(_row(example, record.id, record.origin or record.id))
    return rows


def read_recode_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ReCode-format JSONL file; refuses CodeUpdateArena (by path and by content)."""
    path = Path(path)
    refuse_arena_path(path)
    rows = []
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON: {exc.msg}") from exc
            if not isinstance(raw, dict):
                raise DataError(f"{where}: a row must be a JSON object")
            reason = arena_reason(raw)
            if reason:
                raise ArenaDataError(
                    f"{where}: refusing CodeUpdateArena data ({reason}); it is "
                    "the held-out test set and is never trained on"
                )
            try:
                example = ReCodeExample.from_dict(raw)
            except (TypeError, ValueError) as exc:
                raise DataError(f"{where}: {exc}") from exc
            row = _row(example, update_key(raw), where)
            if "exact_fix" in raw:
                if not isinstance(raw["exact_fix"], bool):
                    raise DataError(f"{where}: exact_fix must be true or false")
                row["exact_fix"] = raw["exact_fix"]
            rows.append(row)
    return rows


def write_recode_jsonl(rows: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """Write rows as ReCode JSONL (the five fields, then ``update_id``, ``source`` and
    ``exact_fix`` where the row has them)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            record = {name: row[name] for name in FIELDS}
            record["update_id"] = update_key(row)
            if row.get("source"):
                record["source"] = row["source"]
            if "exact_fix" in row:
                record["exact_fix"] = row["exact_fix"]
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def collect_rows(
    files: Sequence[str | Path] = (),
    *,
    use_kb: bool = True,
    kb_paths: Sequence[str | Path] = (),
    libraries: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Rows from the knowledge base and from JSONL files, filtered, exact duplicates dropped.

    Every row, whatever its origin, passes :func:`arena_reason`.
    """
    rows: list[dict[str, Any]] = []
    if use_kb:
        from recode.dataset.knowledge import load_knowledge_base

        for path in kb_paths:
            refuse_arena_path(Path(path))
        kb = load_knowledge_base([Path(p) for p in kb_paths] if kb_paths else None)
        rows.extend(kb_rows(kb))
    for path in files:
        rows.extend(read_recode_jsonl(path))
    if libraries:
        from recode.dataset.knowledge import canonical_name

        keep = {canonical_name(name) for name in libraries}
        rows = [r for r in rows if canonical_name(r["dependency"]) in keep]
    seen: set[tuple[str, ...]] = set()
    unique = []
    for row in rows:
        reason = arena_reason(row)
        if reason:
            raise ArenaDataError(
                f"{row.get('source', '?')}: refusing CodeUpdateArena data ({reason})"
            )
        key = tuple(row[name] for name in FIELDS)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


# ---------------------------------------------------------------------------------------------
# Split by update


@dataclass(frozen=True)
class Split:
    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]

    @property
    def train_updates(self) -> set[str]:
        return {update_key(r) for r in self.train}

    @property
    def validation_updates(self) -> set[str]:
        return {update_key(r) for r in self.validation}


def split_by_update(
    rows: Sequence[Mapping[str, Any]],
    val_fraction: float = 0.1,
    *,
    min_val_updates: int = 1,
    seed: int = 0,
) -> Split:
    """Hold out whole updates: every row of an update lands on the same side.

    ``round(val_fraction * updates)`` updates (at least ``min_val_updates``, and always leaving
    one for training) go to validation, drawn with ``seed`` from the sorted update ids, so the
    split does not depend on row order. ``val_fraction=0`` holds out nothing.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(update_key(row), []).append(dict(row))
    ids = sorted(groups)
    if val_fraction <= 0 or len(ids) < 2:
        n_val = 0
    else:
        n_val = max(min_val_updates, round(val_fraction * len(ids)))
        n_val = min(n_val, len(ids) - 1)
    random.Random(seed).shuffle(ids)
    held = set(ids[:n_val])
    train = [r for uid in sorted(groups) if uid not in held for r in groups[uid]]
    validation = [r for uid in sorted(groups) if uid in held for r in groups[uid]]
    return Split(train, validation)


# ---------------------------------------------------------------------------------------------
# Exact fixes


def mark_exact_fixes(rows: Sequence[Mapping[str, Any]], kb: Any = None) -> list[dict[str, Any]]:
    """The rows, each with ``exact_fix``: a row that has one keeps it (the dataset builder's
    mark); the others are marked here, as :func:`recode.dataset.build.exact_fix_records` marks
    them, with the fixes of ``kb`` (a ``KnowledgeBase``; None: the shipped one), the row's
    ``update_id`` taken as its record."""
    from recode.dataset.build import Checker, exact_fix_records
    from recode.training.dataset_tools import build_tools

    out = [dict(row) for row in rows]
    unmarked = [row for row in out if "exact_fix" not in row]
    if unmarked:
        if kb is None:
            from recode.dataset.knowledge import load_knowledge_base

            kb = load_knowledge_base()
        checker = Checker(kb, build_tools())
        for row in unmarked:
            ids = exact_fix_records(checker, update_key(row), row["old_code"], row["new_code"])
            row["exact_fix"] = bool(ids)
    return out


def keep_exact_fixes(
    rows: Sequence[Mapping[str, Any]], fraction: float, *, seed: int = 0
) -> list[dict[str, Any]]:
    """The rows without those an exact fix produces, but for ``round(fraction * n)`` of these
    ``n``, drawn with ``seed``; order kept. Rows must be marked (:func:`mark_exact_fixes`).

    >>> rows = [{"old_code": str(i), "exact_fix": i % 2 == 0} for i in range(6)]
    >>> [r["old_code"] for r in keep_exact_fixes(rows, 0.0)]
    ['1', '3', '5']
    >>> len(keep_exact_fixes(rows, 1.0)), len(keep_exact_fixes(rows, 2 / 3))
    (6, 5)
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    exact = [i for i, row in enumerate(rows) if row["exact_fix"]]
    kept = set(random.Random(seed).sample(exact, round(fraction * len(exact))))
    return [dict(row) for i, row in enumerate(rows) if not row["exact_fix"] or i in kept]


# ---------------------------------------------------------------------------------------------
# Datasets


def prompt_text(row: Mapping[str, Any], tokenizer: ChatTemplater) -> str:
    """The generation prompt for a row: chat template, assistant turn opened, ``<think>``."""
    messages = build_messages(
        row["dependency"], row["new_version"], row["update_info"], row["old_code"]
    )
    return render_prompt(tokenizer, messages)


def sft_target(row: Mapping[str, Any], think_chars: int = 80) -> str:
    """What a warm-start teaches the model to write after ``<think>``: a short reason taken from
    the update text (its first sentence, at most ``think_chars`` characters), then the new code
    as the answer.

    >>> print(sft_target({"update_info": "np.float_ was removed. Use np.float64.",
    ...                   "new_code": "x = np.float64(1)\\n"}))
    <BLANKLINE>
    np.float_ was removed.
    </think>
    <answer>
    ```python
    x = np.float64(1)
    ```
    </answer>
    """
    info = " ".join(str(row["update_info"]).split())
    match = re.match(r"(.+?[.!?])(?:\s|$)", info)
    reason = (match.group(1) if match else info)[:think_chars].strip()
    code = str(row["new_code"]).strip("\n").rstrip()
    return f"\n{reason}\n</think>\n<answer>\n```python\n{code}\n```\n</answer>"


def to_dataset(
    rows: Sequence[Mapping[str, Any]],
    tokenizer: Any,
    *,
    max_prompt_tokens: int | None = None,
) -> Any:
    """A ``datasets.Dataset`` with ``prompt`` (rendered, ending in ``"<think>"``), the ReCode
    fields (``new_code`` feeds the rewards) and ``update_id``. Rows whose prompt has more than
    ``max_prompt_tokens`` tokens are left out."""
    from datasets import Dataset

    columns: dict[str, list[str]] = {"prompt": [], **{n: [] for n in FIELDS}, "update_id": []}
    for row in rows:
        prompt = prompt_text(row, tokenizer)
        if not prompt.endswith(THINK_PREFILL):  # pragma: no cover - render_prompt guarantees it
            raise DataError("rendered prompt does not end with the <think> prefill")
        if max_prompt_tokens is not None:
            n_tokens = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
            if n_tokens > max_prompt_tokens:
                continue
        columns["prompt"].append(prompt)
        for name in FIELDS:
            columns[name].append(str(row[name]))
        columns["update_id"].append(update_key(row))
    return Dataset.from_dict(columns)


# ---------------------------------------------------------------------------------------------
# CodeUpdateArena refusal

# Fields that only CodeUpdateArena rows have (grouped June 2024 form and the final HF form).
_ARENA_FIELDS = frozenset(
    {
        "prog_syn_examples",
        "prog_syn_id",
        "prog_syn_imports",
        "ref_solution",
        "solution_signature",
        "unit_tests",
        "update_type",
        "function_path",
        "update_docstring",
        "new_function_signature",
    }
)
# Its update ids: "[math.sin]:[modify-output-semantics]:[update-0]".
_ARENA_ID = re.compile(r"^\[[\w.]+\]:\[[\w-]+\]:\[update-\d+\]")
# Its way of installing an update: keep the original as old_<name> on the owner.
_ARENA_SETATTR = re.compile(r"setattr\(\s*[\w.]+\s*,\s*['\"]old_\w+['\"]")
_ARENA_NAMES = frozenset({"arena.jsonl", "arena-ungrouped.jsonl"})


def is_arena_path(path: str | Path) -> bool:
    """Whether a path names CodeUpdateArena data: a folder called CodeUpdateArena (any case or
    punctuation) on the way, the benchmark's file names, or the very file the evaluation uses.

    >>> is_arena_path("/data/CodeUpdateArena/train.jsonl"), is_arena_path("x/code_update_arena")
    (True, True)
    >>> is_arena_path("data/arena-ungrouped.jsonl"), is_arena_path("data/recode.jsonl")
    (True, False)
    """
    p = Path(path)
    try:
        resolved = p.resolve()
    except OSError:  # pragma: no cover - unusual file systems
        resolved = p
    for candidate in (p, resolved):
        if candidate.name.lower() in _ARENA_NAMES:
            return True
        for part in candidate.parts:
            if re.sub(r"[^a-z0-9]", "", part.lower()) == "codeupdatearena":
                return True
    arena = _arena_file()
    if arena is not None and p.exists():
        try:
            return os.path.samefile(p, arena)
        except OSError:  # pragma: no cover
            return False
    return False


def refuse_arena_path(path: str | Path) -> None:
    if is_arena_path(path):
        raise ArenaDataError(
            f"refusing {path}: it is CodeUpdateArena data, the held-out test set "
            "of ReCode, and is never trained on"
        )


def arena_reason(row: Mapping[str, Any]) -> str | None:
    """Why a row looks like CodeUpdateArena data, or ``None``.

    >>> arena_reason({"update": {}, "prog_syn_examples": []})
    'CodeUpdateArena fields: prog_syn_examples'
    >>> arena_reason({"update_id": "[math.sin]:[modify-output-semantics]:[update-0]"})
    'CodeUpdateArena update id [math.sin]:[modify-output-semantics]:[update-0]'
    >>> arena_reason({"old_code": "x = 1", "new_code": "x = 2"}) is None
    True
    """
    found = sorted(_ARENA_FIELDS & set(row))
    nested = row.get("update")
    if isinstance(nested, Mapping):
        found += sorted(f"update.{k}" for k in _ARENA_FIELDS & set(nested))
    if found:
        return "CodeUpdateArena fields: " + ", ".join(found)
    for key in ("update_id", "id"):
        value = row.get(key)
        if isinstance(value, str) and _ARENA_ID.match(value.strip()):
            return f"CodeUpdateArena update id {value.strip()}"
    for key in ("old_code", "new_code", "update_info"):
        value = row.get(key)
        if isinstance(value, str) and _ARENA_SETATTR.search(value):
            return f"{key} installs an update the CodeUpdateArena way (setattr(..., 'old_...'))"
    prints = _arena_fingerprints()
    if prints:
        for key in ("old_code", "new_code"):
            value = row.get(key)
            if isinstance(value, str) and _squash(value) in prints.code:
                return f"{key} is CodeUpdateArena code"
        info = row.get("update_info")
        if isinstance(info, str):
            for sentence in _sentences(info):
                if sentence in prints.text:
                    return "update_info quotes a CodeUpdateArena update"
    return None


@dataclass(frozen=True)
class _Fingerprints:
    text: frozenset[str]  # sentences (40+ characters) of update descriptions and docstrings
    code: frozenset[str]  # implementations and reference solutions, white space squashed

    def __bool__(self) -> bool:
        return bool(self.text or self.code)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+", _squash(text))
    return [p for p in parts if len(p) >= 40]


def _arena_file() -> Path | None:
    env = os.environ.get(ARENA_ENV)
    candidates = [Path(env)] if env else []
    repo = Path(__file__).resolve().parents[1]
    relative = Path("data") / "CodeUpdateArena" / "arena.jsonl"
    candidates += [repo / "shared" / relative, repo.parent / "shared" / relative]
    return next((c for c in candidates if c.is_file()), None)


@lru_cache(maxsize=1)
def _arena_fingerprints() -> _Fingerprints:
    path = _arena_file()
    if path is None:
        return _Fingerprints(frozenset(), frozenset())
    text: set[str] = set()
    code: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(raw, dict):
                continue
            update = raw.get("update") if isinstance(raw.get("update"), dict) else raw
            for key in (
                "description",
                "docstring",
                "update_description",
                "update_docstring",
                "rationale",
            ):
                if isinstance(update.get(key), str):
                    text.update(_sentences(update[key]))
            if isinstance(update.get("implementation"), str):
                code.add(_squash(update["implementation"]))
            examples = raw.get("prog_syn_examples") or [raw]
            for ex in examples:
                if isinstance(ex, dict) and isinstance(ex.get("ref_solution"), str):
                    code.add(_squash(ex["ref_solution"]))
    code.discard("")
    return _Fingerprints(frozenset(text), frozenset(code))
