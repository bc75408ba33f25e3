"""Tests for recode.dataset.prompt: messages, rendering, answer extraction, the example format."""

from __future__ import annotations

import doctest
import json
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recode.dataset import prompt
from recode.dataset.prompt import (
    SYSTEM_PROMPT,
    THINK_PREFILL,
    ReCodeExample,
    build_messages,
    display_version,
    extract_answer,
    render_prompt,
)

EXAMPLE = {
    "dependency": "pandas",
    "new_version": "==2.0.0",
    "update_info": "DataFrame.append was removed; use pandas.concat instead.",
    "old_code": "import pandas as pd\ndf = df.append(other)\n",
    "new_code": "import pandas as pd\ndf = pd.concat([df, other])\n",
}


def test_doctests() -> None:
    result = doctest.testmod(prompt, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0


# ------------------------------------------------------------------------------ messages


def test_messages_follow_the_recode_layout() -> None:
    messages = build_messages(
        "numpy", "==2.0.0", "  np.float_ was removed.\n", "x = np.float_(1)\n"
    )
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert "transform the old version of the code into the new version" in SYSTEM_PROMPT
    user = messages[1]["content"]
    assert user.startswith(
        "numpy performed an API update in version 2.0.0, and the update content includes:\n"
        "<doc>\nnp.float_ was removed.\n</doc>\n"
        "The old version of the code is:\n```python\nx = np.float_(1)\n```\n"
    )
    for needle in ("<think>", "</think>", "<answer>", "</answer>", "```python ```"):
        assert needle in user


def test_old_code_keeps_indentation_and_inner_blank_lines() -> None:
    old = "\n\n    if x:\n\n        y()\n\n"
    user = build_messages("lib", "1.0", "info", old)[1]["content"]
    assert "```python\n    if x:\n\n        y()\n```" in user


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("==2.0.0", "2.0.0"),
        ("2.0.0", "2.0.0"),
        (">=1.5", "1.5"),
        ("~= 0.4", "0.4"),
        ("v3.1", "3.1"),
        ("===1.0", "1.0"),
        (" 1.2.3 ", "1.2.3"),
        ("latest", "latest"),
        ("==dev", "==dev"),
    ],
)
def test_display_version(raw: str, shown: str) -> None:
    assert display_version(raw) == shown


def test_messages_are_fresh_objects() -> None:
    first = build_messages("a", "1", "b", "c")
    first[0]["content"] = "changed"
    assert build_messages("a", "1", "b", "c")[0]["content"] == SYSTEM_PROMPT


# ------------------------------------------------------------------------------ rendering


class ChatMLTokenizer:
    """Duck-typed tokenizer: renders ChatML like Qwen's template and records its arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def apply_chat_template(self, conversation: Any, /, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in conversation)
        if kwargs.get("add_generation_prompt"):
            text += "<|im_start|>assistant\n"
        return text


def test_render_prompt_opens_assistant_turn_with_think() -> None:
    tok = ChatMLTokenizer()
    text = render_prompt(tok, build_messages(**{k: EXAMPLE[k] for k in EXAMPLE if k != "new_code"}))
    assert text.endswith("<|im_start|>assistant\n" + THINK_PREFILL)
    assert text.count("<|im_start|>") == 3
    assert tok.calls == [{"tokenize": False, "add_generation_prompt": True}]


def test_render_prompt_custom_prefill_and_bad_tokenizer() -> None:
    bare = render_prompt(ChatMLTokenizer(), [{"role": "user", "content": "q"}], prefill="")
    assert bare.endswith("<|im_start|>assistant\n")

    class Tokenizing:
        def apply_chat_template(self, conversation: Any, /, **kwargs: Any) -> list[int]:
            return [1, 2, 3]

    with pytest.raises(TypeError, match="expected str"):
        render_prompt(Tokenizing(), [{"role": "user", "content": "q"}])


def test_module_does_not_import_transformers() -> None:
    import subprocess

    code = (
        "import sys, recode.dataset.prompt, recode.training.reward; "
        "print(any(m in sys.modules for m in ('transformers', 'torch', 'trl')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_render_prompt_with_a_real_tokenizer() -> None:
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    vocab = {"[UNK]": 0, "hi": 1}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    text = render_prompt(tok, build_messages("numpy", "2.0", "info", "x = 1"))
    assert text.startswith("<|im_start|>system\n" + SYSTEM_PROMPT)
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n<think>")


# ------------------------------------------------------------------------------ extraction


def wrap(code: str, think: str = "reasoning") -> str:
    return f"{think}</think>\n<answer>\n```python\n{code}\n```\n</answer>"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (wrap("x = 1"), "x = 1"),
        (wrap("\n\n    x = 1\n\n"), "    x = 1"),  # first-line indentation kept
        (wrap("x = 1", think="draft <answer>```python\ny = 0\n```</answer>"), "x = 1"),
        ("t</think><answer>```python\na = 1\n```\n```python\nb = 2\n```</answer>", "b = 2"),
        ("t</think><answer>```Python\nc = 3\n```</answer>", "c = 3"),
        ("t</think><answer>```py  \nd = 4\n```</answer>", "d = 4"),
        ("t</think><answer>```python\ne = 5\n", "e = 5"),  # truncated: no fence, no tag
        ("t</think><answer>```python\nf = 6\n</answer>", "f = 6"),
        ("t</think><answer>```python\ng = 7```</answer>", "g = 7"),
        ("t</think><answer>```python\nh = '```'\n    ```\n</answer>", "h = '```'"),
        ("t</think><answer>```python\n```</answer>", ""),
        ("t</think><answer>```python</answer>", ""),
        ("<answer>```python\ns = '''\n\n'''\n```</answer>", "s = '''\n\n'''"),
    ],
)
def test_extract_answer(text: str, code: str) -> None:
    assert extract_answer(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "",
        "```python\nx = 1\n```",  # code outside any answer
        "t</think><answer>x = 1</answer>",  # no fence
        "t</think><answer>```\nx = 1\n```</answer>",  # bare fence
        "t</think><answer>```javascript\nx = 1\n```</answer>",
        "t</think><answer>```pythonic\nx = 1\n```</answer>",
        "<answer>```python\nx = 1\n```</answer> then <answer>no code</answer>",  # last one wins
    ],
)
def test_extract_answer_none(text: str) -> None:
    assert extract_answer(text) is None


_code_lines = st.lists(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n`<"),
        max_size=30,
    ),
    min_size=1,
    max_size=8,
)


@given(_code_lines, st.text(alphabet="abc <>/\n", max_size=40))
def test_extract_answer_round_trip(lines: list[str], think: str) -> None:
    code = "\n".join(lines)
    expected = code.rstrip()
    while "\n" in expected and not expected.split("\n", 1)[0].strip():
        expected = expected.split("\n", 1)[1]
    if not expected.strip():
        expected = ""
    assert extract_answer(wrap(code, think=think)) == expected


# ------------------------------------------------------------------------------ example format


def test_example_round_trip_and_json() -> None:
    ex = ReCodeExample.from_dict({**EXAMPLE, "extra": 1})
    assert ex.to_dict() == EXAMPLE
    assert ReCodeExample.from_dict(json.loads(json.dumps(ex.to_dict()))) == ex
    assert ex.messages() == build_messages(
        EXAMPLE["dependency"], EXAMPLE["new_version"], EXAMPLE["update_info"], EXAMPLE["old_code"]
    )


def test_example_rejects_missing_and_non_string_fields() -> None:
    partial = {k: v for k, v in EXAMPLE.items() if k not in ("old_code", "new_code")}
    with pytest.raises(ValueError, match="old_code, new_code"):
        ReCodeExample.from_dict(partial)
    with pytest.raises(TypeError, match="new_version"):
        ReCodeExample.from_dict({**EXAMPLE, "new_version": 2.0})
