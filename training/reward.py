"""ReCode rewards, as plain callables in TRL's reward-function form.

Every reward is registered once, by name, in :data:`REWARDS` (the ``@reward("name")``
decorator): a configuration's ``rewards`` option chooses among those names, and ``recode-train``
passes the chosen functions to TRL. Every function here is
``fn(completions, new_code, **kwargs) -> list[float]``: ``completions`` are
the texts generated *after* the prefilled ``"<think>"`` (see :mod:`recode.dataset.prompt`), each a
string or TRL's conversational form (a list of messages; the last assistant message's content is
the text); ``new_code`` is the dataset column with the reference migrated code. TRL passes its
other columns and ``prompts``/``completion_ids`` as keyword arguments, which are ignored. Passing
``[format_reward, es_star]`` to ``GRPOTrainer(reward_funcs=...)`` sums them, as the paper does,
and logs each; :func:`recode_reward` is the same sum as one function.

Definitions (ReCode, arXiv 2506.20495, and its released code):

* :func:`format_reward`: +1.0 when ``"<think>" + completion`` is ``<think>...</think>``, optional
  white space, ``<answer>...</answer>``, optional white space, and nothing else, with no
  ``<think>``/``</think>`` inside the thinking; else -1.0.
* :func:`es_star`: -2.0 when the answer holds no ````python`` block or its code does not parse;
  otherwise ``3.5 * sim - 1.5`` with ``sim = 1 - Levenshtein(c, t) / max(len(c), len(t))`` over
  the :func:`normalize_code` forms of the answer code ``c`` and the reference ``t``. Range
  [-1.5, 2.0] for parsable answers. Both normalised forms empty: ``sim = 1.0``.
* :func:`em_star`: -2.0 on a missing block or a syntax error, as in the released code (the paper's
  summary only says "+2 exact, -1.5 otherwise"; keeping -2.0 there makes broken output score below
  wrong-but-valid output, as ES* does); +2.0 when the normalised forms are equal; -1.5 otherwise.
* :func:`es_ast`: ES* over ``ast.unparse(ast.parse(code))`` forms, blind to formatting, comments
  and quoting style (docstrings still count). A reference that does not parse falls back to its
  :func:`normalize_code` form.

:func:`normalize_code` and :func:`edit_similarity` are defined in :mod:`recode.dataset.codesim`
(the editor side ranks a model's answers with them too) and re-exported here.

Where this differs from the released code, and why:

* **Normalisation uses** :mod:`tokenize`, not regular expressions. The released code hides string
  literals behind numbered placeholders, deletes ``#...`` to the end of each line, puts the strings
  back, and then collapses blank lines. That breaks on (a) an apostrophe or quote in a comment
  (``# don't``), which opens a "string" that swallows code up to the next quote, and (b) eleven or
  more string literals, because putting back placeholder 1 also rewrites the start of placeholders
  10-19. With :mod:`tokenize` comments are exactly the ``COMMENT`` tokens. On code where the
  released normalisation is not broken the two agree (``tests/test_reward.py`` checks this with
  property tests), except for the deliberate differences that follow.
* Trailing white space is stripped from every line (the released code keeps it, including the
  blanks left before a removed inline comment, so ``x = 1  # c`` became ``"x = 1  "``).
* Text inside string literals is left untouched: blank lines and trailing blanks inside a
  triple-quoted string are part of the program (the released code removed blank lines there too).
  Docstrings are kept, as in the released code (its pattern lists triple-quoted strings among the
  comments, but by then they are already hidden behind placeholders, so it never removes them).
* ``\\r\\n`` and lone ``\\r`` become ``\\n`` first, as Python's compiler reads them.
* Code the tokenizer rejects (only possible for a reference, since answer code is parsed first)
  keeps the comments found before the tokenizer gave up (an unterminated string: everything after
  its opening quote is kept) and is otherwise only stripped of trailing blanks and blank lines.
* The code scored is the last ````python`` block of the last ``<answer>`` (see
  :func:`~recode.dataset.prompt.extract_answer`); the released code took the first
  ````python`` block anywhere, thinking included.
* The syntax check parses the answer code itself, not its normalised form; a block indented as a
  whole is dedented first (the released code stripped only the first line's indentation).
* Levenshtein distance comes from ``rapidfuzz`` (C++, bit-parallel) instead of a pure-Python
  dynamic program: the same numbers, over ten thousand times faster at 2,000 characters. The
  whole ES* reward is then about a thousand times faster than the published one there, bounded
  by parsing and tokenizing (``bench/bench_reward.py``, ``BENCHMARKS.md``). To keep tokenizing
  cheap, only lines that hold a quote, ``#`` or a backslash are tokenized (see
  :func:`recode.dataset.codesim._scan`), and
  normalised code is cached, as the G completions of a GRPO group share one reference.
"""

from __future__ import annotations

import ast
import textwrap
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

# The normalisation and the edit similarity live in the dataset layer, shared with the editor
# side's model-backed migration; _normalize and _scan are re-exported for tests and benchmarks.
from recode.dataset.codesim import _normalize, edit_similarity, normalize_code
from recode.dataset.codesim import _scan as _scan
from recode.dataset.prompt import THINK_PREFILL, extract_answer

__all__ = [
    "EM_EXACT",
    "REWARDS",
    "EM_WRONG",
    "INVALID",
    "RewardFunc",
    "completion_text",
    "edit_similarity",
    "em_star",
    "es_ast",
    "es_star",
    "format_reward",
    "has_valid_format",
    "normalize_code",
    "recode_reward",
    "reward",
]

#: Reward for an answer with no ```python block or with code that does not parse.
INVALID = -2.0
EM_EXACT = 2.0
EM_WRONG = -1.5
FORMAT_OK = 1.0
FORMAT_BAD = -1.0

Completion = str | Sequence[Mapping[str, Any]]
RewardFunc = Callable[..., list[float]]

#: Every reward a configuration can name (``TrainConfig.rewards``), in TRL's form.
REWARDS: dict[str, RewardFunc] = {}


def reward(name: str) -> Callable[[RewardFunc], RewardFunc]:
    """Register a reward function under ``name`` in :data:`REWARDS`."""

    def register(func: RewardFunc) -> RewardFunc:
        if name in REWARDS:
            raise ValueError(f"reward {name!r} is registered twice")
        REWARDS[name] = func
        return func

    return register


_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"


# --------------------------------------------------------------------------------------------
# Completions


def completion_text(completion: Completion) -> str:
    """The generated text of one completion, plain or conversational.

    >>> completion_text("a</think><answer>b</answer>")
    'a</think><answer>b</answer>'
    >>> completion_text([{"role": "assistant", "content": "done"}])
    'done'
    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "x"}]}])
    'x'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content_text(completion.get("content"))
    messages = list(completion)
    if not messages:
        return ""
    for message in reversed(messages):
        if message.get("role") == "assistant":
            return _content_text(message.get("content"))
    return _content_text(messages[-1].get("content"))


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(
            str(part.get("text", "")) if isinstance(part, Mapping) else str(part)
            for part in content
        )
    return str(content)


# --------------------------------------------------------------------------------------------
# Parsing


def _parse(code: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like
            return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _es(similarity: float) -> float:
    """ES* from an edit similarity: 3.5 * sim - 1.5 (from -1.5 to 2.0)."""
    return similarity * 3.5 - 1.5


def _score_answers(
    completions: Sequence[Completion],
    new_code: Sequence[str],
    score: Callable[[tuple[str, ast.Module], str], float],
) -> list[float]:
    """``score(answer, target)`` per completion; INVALID where no answer parses."""
    _check_lengths(completions, new_code)
    rewards: list[float] = []
    for completion, target in zip(completions, new_code, strict=True):
        answer = _parsed_answer(completion)
        rewards.append(INVALID if answer is None else score(answer, target))
    return rewards


def _parsed_answer(completion: Completion) -> tuple[str, ast.Module] | None:
    """The answer code and its tree, or ``None`` (no python block, or it does not parse)."""
    code = extract_answer(completion_text(completion))
    if code is None:
        return None
    tree = _parse(code)
    if tree is None and code[:1] in (" ", "\t"):
        code = textwrap.dedent(code)
        tree = _parse(code)
    if tree is None:
        return None
    return code, tree


@lru_cache(maxsize=4096)
def _reference_unparsed(code: str) -> str:
    tree = _parse(code)
    if tree is None and code[:1] in (" ", "\t"):
        tree = _parse(textwrap.dedent(code))
    if tree is None:
        return _normalize(code)
    return ast.unparse(tree)


def _check_lengths(completions: Sequence[Any], new_code: Sequence[str]) -> None:
    if len(completions) != len(new_code):
        raise ValueError(
            f"{len(completions)} completions but {len(new_code)} reference codes (new_code)"
        )


# --------------------------------------------------------------------------------------------
# Rewards


def has_valid_format(text: str) -> bool:
    """Whether ``"<think>" + text`` is exactly think block, answer block, white space between.

    >>> has_valid_format("step 1</think>\\n<answer>```python\\nx = 1\\n```</answer>\\n")
    True
    >>> has_valid_format("a <think> b</think><answer>x</answer>")  # nested think tag
    False
    >>> has_valid_format("a</think><answer>x</answer> trailing words")
    False
    """
    full = THINK_PREFILL + text
    if not full.startswith(_THINK_OPEN):
        return False
    close = full.find(_THINK_CLOSE, len(_THINK_OPEN))
    if close < 0 or _THINK_OPEN in full[len(_THINK_OPEN) : close]:
        return False
    rest = full[close + len(_THINK_CLOSE) :].strip()
    return (
        rest.startswith(_ANSWER_OPEN)
        and rest.endswith(_ANSWER_CLOSE)
        and len(rest) >= len(_ANSWER_OPEN) + len(_ANSWER_CLOSE)
    )


@reward("format")
def format_reward(completions: Sequence[Completion], **kwargs: Any) -> list[float]:
    """+1.0 for ``<think>...</think> <answer>...</answer>`` (with the prefill), else -1.0.

    Takes ``new_code`` and any other TRL keyword arguments and ignores them.

    >>> format_reward(["Rename it.</think>\\n<answer>\\n```python\\ny = 1\\n```\\n</answer>",
    ...                "no tags at all"])
    [1.0, -1.0]
    """
    return [FORMAT_OK if has_valid_format(completion_text(c)) else FORMAT_BAD for c in completions]


@reward("es_star")
def es_star(
    completions: Sequence[Completion], new_code: Sequence[str], **kwargs: Any
) -> list[float]:
    """ES*: syntax-checked edit similarity, ``3.5 * sim - 1.5``, or -2.0 (see module doc).

    >>> answer = "Use new.</think>\\n<answer>\\n```python\\n{}\\n```\\n</answer>"
    >>> es_star([answer.format("y = a.new(1)  # fixed"),  # equal once normalised
    ...          answer.format("y = a.old(1)"),           # 3 edits over 12 characters
    ...          answer.format("y = a.new(1"),            # SyntaxError
    ...          "y = a.new(1)"],                         # no answer block
    ...         new_code=["y = a.new(1)"] * 4)
    [2.0, 1.125, -2.0, -2.0]
    """
    return _score_answers(
        completions,
        new_code,
        lambda answer, target: _es(edit_similarity(_normalize(answer[0]), _normalize(target))),
    )


@reward("em_star")
def em_star(
    completions: Sequence[Completion], new_code: Sequence[str], **kwargs: Any
) -> list[float]:
    """EM*: +2.0 when the normalised codes are equal, -1.5 when not, -2.0 when invalid.

    >>> answer = "ok</think><answer>```python\\n{}\\n```</answer>"
    >>> em_star([answer.format("y = f(a)\\n\\n# done"), answer.format("y = g(a)"),
    ...          answer.format("y = (")], new_code=["y = f(a)"] * 3)
    [2.0, -1.5, -2.0]
    """
    return _score_answers(
        completions,
        new_code,
        lambda answer, target: (
            EM_EXACT if _normalize(answer[0]) == _normalize(target) else EM_WRONG
        ),
    )


@reward("es_ast")
def es_ast(
    completions: Sequence[Completion], new_code: Sequence[str], **kwargs: Any
) -> list[float]:
    """ES* over ``ast.unparse`` forms: formatting, comments and quote style do not count.

    >>> answer = "ok</think><answer>```python\\n{}\\n```</answer>"
    >>> es_ast([answer.format("d = dict(a = 'x',\\n         b = 2)")],
    ...        new_code=['d = dict(a="x", b=2)'])
    [2.0]
    """
    return _score_answers(
        completions,
        new_code,
        lambda answer, target: _es(
            edit_similarity(ast.unparse(answer[1]), _reference_unparsed(target))
        ),
    )


def recode_reward(
    completions: Sequence[Completion], new_code: Sequence[str], **kwargs: Any
) -> list[float]:
    """The paper's reward: :func:`format_reward` + :func:`es_star`, in [-3.0, 3.0].

    >>> recode_reward(["ok</think><answer>```python\\nz = 0\\n```</answer>",
    ...                "ok</think> then <answer>```python\\nz = 0\\n```</answer>",
    ...                "ok</think><answer>z = 0</answer>"], new_code=["z = 0"] * 3)
    [3.0, 1.0, -1.0]
    """
    fmt = format_reward(completions)
    es = es_star(completions, new_code)
    return [f + e for f, e in zip(fmt, es, strict=True)]
