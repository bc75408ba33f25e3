"""The ReCode prompt: one definition shared by training, evaluation and the editor.

A ReCode example (:class:`ReCodeExample`) is an API update of a library together with a piece of
code written against the old API and the same code migrated to the new one. The model sees the
update text and the old code (:func:`build_messages`), reasons inside ``<think></think>`` and
gives the migrated code inside ``<answer></answer>`` as a fenced ````python`` block. Generation
starts with the assistant turn already holding ``"<think>"`` (:data:`THINK_PREFILL`,
:func:`render_prompt`), so a completion is the text *after* that prefix.
:func:`extract_answer` pulls the code back out of a completion.

The layout follows the ReCode paper (arXiv 2506.20495) and its released training code; the wording
is ours. Two deliberate differences from the released code:

* The released prompt prefills ``"Let me solve this step by step.\\n<think>"``; here the prefill is
  just ``"<think>"``, as the paper's text and the format reward assume.
* The released code cuts the first two characters off ``new_version`` because its data writes
  versions as ``"==1.2.0"``. :func:`build_messages` instead drops any leading version-specifier
  operator (``==``, ``>=``, ``~=``, ...) and a ``v`` prefix, so ``"==1.2.0"``, ``"v1.2.0"`` and
  ``"1.2.0"`` all read ``1.2.0``.

Nothing here imports ``transformers``: :func:`render_prompt` takes any object with an
``apply_chat_template`` method.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

__all__ = [
    "SYSTEM_PROMPT",
    "THINK_PREFILL",
    "ChatTemplater",
    "ReCodeExample",
    "build_messages",
    "display_version",
    "extract_answer",
    "render_prompt",
]

#: Text the assistant turn is prefilled with; completions are scored with it prepended.
THINK_PREFILL = "<think>"

SYSTEM_PROMPT = (
    "You are a coding assistant that keeps code working when the libraries under it change. "
    "Your task is to transform the old version of the code into the new version, based on the "
    "update information. First reason about the change, then give the final code."
)

_USER_TEMPLATE = (
    "{dependency} performed an API update in version {version}, and the update content "
    "includes:\n"
    "<doc>\n"
    "{update_info}\n"
    "</doc>\n"
    "The old version of the code is:\n"
    "```python\n"
    "{old_code}\n"
    "```\n"
    "\n"
    "Show your reasoning in <think> </think> tags, then return the final code in "
    "<answer> </answer> tags; the code inside <answer></answer> must be enclosed in a "
    "```python ``` block."
)

_FIELDS = ("dependency", "new_version", "update_info", "old_code", "new_code")


@dataclass(frozen=True)
class ReCodeExample:
    """One training or evaluation example, the ReCode data format.

    >>> ex = ReCodeExample.from_dict({
    ...     "dependency": "numpy", "new_version": "==2.0.0",
    ...     "update_info": "numpy.float_ was removed; use numpy.float64.",
    ...     "old_code": "x = numpy.float_(1)", "new_code": "x = numpy.float64(1)",
    ...     "source": "ignored extra key"})
    >>> ex.new_version
    '==2.0.0'
    >>> ReCodeExample.from_dict(ex.to_dict()) == ex
    True
    >>> [m["role"] for m in ex.messages()]
    ['system', 'user']
    """

    dependency: str
    new_version: str
    update_info: str
    old_code: str
    new_code: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReCodeExample:
        """Build from a mapping with the five fields; other keys are ignored.

        Raises ``ValueError`` naming every missing field, and ``TypeError`` when a field is not a
        string (a version written as a number, ``2.0``, is refused rather than guessed at).
        """
        missing = [name for name in _FIELDS if name not in data]
        if missing:
            raise ValueError(f"ReCode example lacks field(s): {', '.join(missing)}")
        values: dict[str, str] = {}
        for name in _FIELDS:
            value = data[name]
            if not isinstance(value, str):
                raise TypeError(
                    f"ReCode example field {name!r} must be str, not {type(value).__name__}"
                )
            values[name] = value
        return cls(**values)

    def to_dict(self) -> dict[str, str]:
        """The five fields as a plain dict (JSON-ready)."""
        return asdict(self)

    def messages(self) -> list[dict[str, str]]:
        """The chat messages ``[system, user]`` for this example (see :func:`build_messages`)."""
        return build_messages(self.dependency, self.new_version, self.update_info, self.old_code)


_SPECIFIER_PREFIX = re.compile(r"^\s*(?:===|==|~=|!=|>=|<=|>|<)?\s*[vV]?(?=\d)")


def display_version(version: str) -> str:
    """The version as the prompt shows it: specifier operator and ``v`` prefix dropped.

    >>> display_version("==2.0.0"), display_version(">= 1.5"), display_version("v0.4.1")
    ('2.0.0', '1.5', '0.4.1')
    >>> display_version("latest")
    'latest'
    """
    return _SPECIFIER_PREFIX.sub("", version, count=1).strip()


def build_messages(
    dependency: str, new_version: str, update_info: str, old_code: str
) -> list[dict[str, str]]:
    """The ReCode chat prompt, ``[system, user]``, for one migration request.

    ``update_info`` and ``old_code`` lose surrounding blank space (a trailing newline in the old
    code would otherwise leave an empty line before the closing fence).

    >>> system, user = build_messages("pandas", "==2.0.0",
    ...     "DataFrame.append was removed; use pandas.concat.", "df = df.append(row)\\n")
    >>> "transform the old version of the code into the new version" in system["content"]
    True
    >>> print(user["content"])  # doctest: +ELLIPSIS
    pandas performed an API update in version 2.0.0, and the update content includes:
    <doc>
    DataFrame.append was removed; use pandas.concat.
    </doc>
    The old version of the code is:
    ```python
    df = df.append(row)
    ```
    <BLANKLINE>
    Show your reasoning in <think> </think> tags, then return the final code in ...
    """
    user = _USER_TEMPLATE.format(
        dependency=dependency.strip(),
        version=display_version(new_version),
        update_info=update_info.strip(),
        old_code=old_code.strip("\n").rstrip(),
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]


class ChatTemplater(Protocol):
    """What :func:`render_prompt` needs from a tokenizer (a ``transformers`` tokenizer fits)."""

    def apply_chat_template(self, conversation: Any, /, **kwargs: Any) -> Any: ...


def render_prompt(
    tokenizer: ChatTemplater,
    messages: Sequence[Mapping[str, str]],
    *,
    prefill: str = THINK_PREFILL,
) -> str:
    """The prompt text for generation: the chat template applied, assistant turn opened and
    prefilled with ``prefill`` (``"<think>"``).

    The assistant turn is opened with ``add_generation_prompt=True`` and the prefill appended to
    the text, rather than passed as an assistant message with ``continue_final_message``: some
    reasoning-model templates rewrite assistant contents that hold think tags.

    >>> class Toy:  # stands for a tokenizer; ChatML-like rendering
    ...     def apply_chat_template(self, conversation, tokenize=True, add_generation_prompt=False):
    ...         text = "".join(f"<|{m['role']}|>{m['content']}\\n" for m in conversation)
    ...         return text + ("<|assistant|>" if add_generation_prompt else "")
    >>> render_prompt(Toy(), [{"role": "user", "content": "hi"}])
    '<|user|>hi\\n<|assistant|><think>'
    """
    rendered = tokenizer.apply_chat_template(
        [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
    )
    if not isinstance(rendered, str):
        raise TypeError(
            f"apply_chat_template(tokenize=False) returned {type(rendered).__name__}, expected str"
        )
    return rendered + prefill


_ANSWER_OPEN = "<answer>"
_ANSWER_CLOSE = "</answer>"
# An opening fence: ``` then a python language tag, alone on its line (trailing blanks allowed).
_FENCE_OPEN = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*(?:\n|$)", re.IGNORECASE)
# A closing fence: ``` at the start of a line, after optional indentation.
_FENCE_CLOSE = re.compile(r"^[ \t]*```", re.MULTILINE)


def extract_answer(text: str) -> str | None:
    """The code of a completion's answer, or ``None`` when it has none.

    Rules, in order:

    1. The answer is the text after the **last** ``<answer>``, up to the next ``</answer>`` or,
       when that is missing (a completion cut off at the length limit), to the end of the text.
       No ``<answer>`` at all: ``None``.
    2. Inside it, the code is the **last** block opened by a fence ````python`` (also
       ````py``/````python3``, any case) on a line of its own. No such fence: ``None``;
       plain ```` ``` ```` fences do not count, as the prompt asks for ````python``.
    3. The block ends at the first following line that starts with ```` ``` ```` (after optional
       indentation). Without one, it runs to the end of the answer, minus a ```` ``` ```` glued
       to the end of the last line.
    4. Leading blank lines and trailing white space are removed; the first line's indentation is
       kept (callers decide whether to dedent). An empty block gives ``""``, not ``None``.

    The released ReCode code instead took the first ````python\\n ... \\n```` anywhere in the
    completion, thinking included.

    >>> extract_answer("plan</think>\\n<answer>\\n```python\\nx = 1\\n```\\n</answer>")
    'x = 1'
    >>> extract_answer("<answer>```python\\na = 1\\n```</answer> or <answer>```py\\nb = 2\\n```")
    'b = 2'
    >>> extract_answer("<answer>\\n```python\\ny = 2\\n</answer>")  # no closing fence
    'y = 2'
    >>> extract_answer("<answer>\\n```python\\nz = 3```\\n</answer>")  # fence glued to the code
    'z = 3'
    >>> extract_answer("```python\\nx = 1\\n```") is None  # code, but no answer block
    True
    >>> extract_answer("<answer>x = 1</answer>") is None  # answer, but no python block
    True
    >>> extract_answer("<answer>\\n```python\\n```\\n</answer>")
    ''
    """
    start = text.rfind(_ANSWER_OPEN)
    if start < 0:
        return None
    answer = text[start + len(_ANSWER_OPEN) :]
    end = answer.find(_ANSWER_CLOSE)
    if end >= 0:
        answer = answer[:end]
    openings = list(_FENCE_OPEN.finditer(answer))
    if not openings:
        return None
    body = answer[openings[-1].end() :]
    closing = _FENCE_CLOSE.search(body)
    if closing is not None:
        body = body[: closing.start()]
    else:
        body = body.rstrip()
        if body.endswith("```"):
            body = body[:-3]
    return _strip_blank_edges(body)


def _strip_blank_edges(code: str) -> str:
    """Drop leading blank lines and trailing white space, keeping the first line's indent."""
    code = code.rstrip()
    while True:
        newline = code.find("\n")
        if newline < 0 or code[:newline].strip():
            return code
        code = code[newline + 1 :]
