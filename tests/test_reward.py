"""Tests for recode.training.reward.

The reference implementations below re-express the released ReCode reward code (zjunlp/ReCode,
``src/DAPO/reward.py``): its regex normalisation, its pure-Python dynamic-programming Levenshtein,
its ES*/EM* and its format check. On inputs where that normalisation is not broken, our rewards
must give exactly the same floats; where it is broken, the tests pin down what we do instead.
"""

from __future__ import annotations

import ast
import dataclasses
import doctest
import io
import re
import string
import sysconfig
import tokenize
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from recode.dataset import codesim
from recode.training import reward
from recode.training.reward import (
    INVALID,
    edit_similarity,
    em_star,
    es_ast,
    es_star,
    format_reward,
    has_valid_format,
    normalize_code,
    recode_reward,
)

# ---------------------------------------------------------------------------- reference (published)


def dp_levenshtein(a: str, b: str) -> int:
    """Plain dynamic-programming edit distance (unit insert, delete, substitute)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            if ca == cb:
                current.append(previous[j - 1])
            else:
                current.append(1 + min(previous[j], current[j - 1], previous[j - 1]))
        previous = current
    return previous[-1]


_PUB_STRINGS = re.compile(r"'''.*?'''|\"\"\".*?\"\"\"|'.*?'|\".*?\"", re.DOTALL)
_PUB_COMMENTS = re.compile(r"#.*?$|\"\"\".*?\"\"\"|'''.*?'''", re.MULTILINE | re.DOTALL)
_PUB_BLOCK = re.compile(r"```python\n(.*?)\n```", re.DOTALL)
_PUB_FORMAT = re.compile(
    r"^<think>(?:(?!</?think>).)*</think>\s*<answer>.*?</answer>\s*$", re.DOTALL
)


def published_normalize(code: str) -> str:
    """The released normalisation: hide strings, delete comments, restore, drop blank lines."""
    hidden: list[str] = []

    def hide(match: re.Match[str]) -> str:
        hidden.append(match.group(0))
        return f"STRING_PLACEHOLDER_{len(hidden) - 1}"

    text = _PUB_COMMENTS.sub("", _PUB_STRINGS.sub(hide, code))
    for index, original in enumerate(hidden):  # in order: "_1" also hits "_10" ... "_19"
        text = text.replace(f"STRING_PLACEHOLDER_{index}", original)
    text = re.sub(r"\n\s*\n", "\n", text)
    return re.sub(r"^\s*$\n", "", text.strip(), flags=re.MULTILINE)


def _published_candidate(completion: str) -> str | None:
    blocks = _PUB_BLOCK.findall(completion)
    if not blocks:
        return None
    code = published_normalize(blocks[0].strip())
    try:
        ast.parse(code)
    except SyntaxError:
        return None
    return code


def published_es_star(completion: str, target: str) -> float:
    code = _published_candidate(completion)
    if code is None:
        return -2.0
    tar = published_normalize(target)
    similarity = 1 - (dp_levenshtein(code, tar) / max(len(code), len(tar)))
    return similarity * 3.5 - 1.5


def published_em_star(completion: str, target: str) -> float:
    code = _published_candidate(completion)
    if code is None:
        return -2.0
    return 2.0 if code == published_normalize(target) else -1.5


def published_format(completion: str) -> float:
    return 1.0 if _PUB_FORMAT.search("<think>" + completion) else -1.0


def answer(code: str, think: str = "Rename the call.") -> str:
    return f"{think}</think>\n<answer>\n```python\n{code}\n```\n</answer>"


# ---------------------------------------------------------------------------- generated code
#
# Code on which the released normalisation is NOT broken: comments hold no quotes; at most ten
# string literals; no trailing blanks on code lines (inline comments sit right after the code);
# no blank lines inside string literals; top-level code starts unindented. It still has comments
# everywhere, '#' and the other quote inside strings, docstrings, blank and blank-looking lines,
# nested blocks, and now and then a syntax error.

_WORD = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=6)
_NAMES = st.sampled_from(["x", "y", "df", "np", "total", "value", "self", "a1"])
_COMMENT_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " #.,:()-=!?", max_size=24)
_STRING_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " #.,:-/", max_size=16)
MAX_STRINGS = 10


@st.composite
def _strict_code(draw: st.DrawFn, inline_spacing: bool = False, trailing: bool = False) -> str:
    strings = 0

    def literal() -> str:
        nonlocal strings
        if strings >= MAX_STRINGS or not draw(st.booleans()):
            return (
                draw(st.sampled_from(["0", "1.5", "None", "True"]))
                if draw(st.booleans())
                else draw(_NAMES)
            )
        strings += 1
        body = draw(_STRING_TEXT)
        kind = draw(st.sampled_from(["'", '"', "dq_apos", "sq_dq"]))
        if kind == "dq_apos":
            return f'"{body}\'s"'
        if kind == "sq_dq":
            return f"'say \"{body}\"'"
        return f"{kind}{body}{kind}"

    def expr() -> str:
        form = draw(st.sampled_from(["atom", "call", "method", "list"]))
        if form == "atom":
            return literal()
        if form == "call":
            return f"{draw(_NAMES)}({literal()}, {literal()})"
        if form == "method":
            return f"{draw(_NAMES)}.{draw(_WORD)}({literal()})"
        return f"[{literal()}, {literal()}]"

    def comment() -> str:
        return "#" + draw(_COMMENT_TEXT).rstrip()

    def code_line(indent: str) -> str:
        line = f"{indent}{draw(_NAMES)} = {expr()}"
        if draw(st.integers(0, 3)) == 0:
            space = "  " if inline_spacing else ""
            line += space + comment()
        elif trailing and draw(st.integers(0, 3)) == 0:
            line += " " * draw(st.integers(1, 3))
        return line

    def block(indent: str, depth: int) -> list[str]:
        nonlocal strings
        lines: list[str] = []
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(
                st.sampled_from(
                    ["code", "code", "comment", "blank", "spaces", "if", "def", "broken"]
                )
            )
            if kind == "code":
                lines.append(code_line(indent))
            elif kind == "comment":
                lines.append(draw(st.sampled_from(["", indent])) + comment())
            elif kind == "blank":
                lines.append("")
            elif kind == "spaces":
                lines.append(" " * draw(st.integers(1, 6)))
            elif kind == "broken":
                if draw(st.integers(0, 4)) == 0:
                    lines.append(f"{indent}{draw(_NAMES)} = (")
            elif depth < 2:
                inner = indent + "    "
                if kind == "if":
                    lines.append(f"{indent}if {draw(_NAMES)}:")
                else:
                    lines.append(f"{indent}def f_{draw(_WORD)}():")
                    if strings < MAX_STRINGS and draw(st.booleans()):
                        strings += 1
                        doc = [draw(_COMMENT_TEXT).strip() or "Doc." for _ in range(2)]
                        lines.append(f'{inner}"""{doc[0]}\n{inner}{doc[1]}"""')
                lines.extend(block(inner, depth + 1))
                lines.append(f"{inner}{draw(_NAMES)} = {expr()}")
        return lines

    first = f"{draw(_NAMES)} = {expr()}"
    return "\n".join([first, *block("", 0)]) + draw(st.sampled_from(["", "\n", "\n\n"]))


strict_code = _strict_code()


# ---------------------------------------------------------------------------- agreement


def test_doctests() -> None:
    # normalize_code and edit_similarity, with their examples, live in recode.dataset.codesim
    results = [doctest.testmod(reward), doctest.testmod(codesim)]
    assert sum(r.attempted for r in results) > 15
    assert all(r.failed == 0 for r in results)


@given(st.text(max_size=40), st.text(max_size=40))
def test_rapidfuzz_distance_is_the_dp_distance(a: str, b: str) -> None:
    longest = max(len(a), len(b))
    expected = 1.0 if longest == 0 else 1 - (dp_levenshtein(a, b) / longest)
    assert edit_similarity(a, b) == expected


@settings(max_examples=300, deadline=None)
@given(strict_code)
def test_normalisation_agrees_with_published_where_it_is_not_broken(code: str) -> None:
    assert normalize_code(code) == published_normalize(code)


@settings(max_examples=300, deadline=None)
@given(strict_code, strict_code)
def test_es_star_and_em_star_equal_published(candidate: str, target: str) -> None:
    assume(published_normalize(candidate) or published_normalize(target))  # published: 0 / 0
    completion = answer(candidate)
    assert es_star([completion], new_code=[target]) == [published_es_star(completion, target)]
    assert em_star([completion], new_code=[target]) == [published_em_star(completion, target)]


@settings(max_examples=200, deadline=None)
@given(_strict_code(inline_spacing=True, trailing=True))
def test_only_trailing_blanks_differ_with_spaced_inline_comments(code: str) -> None:
    published = "\n".join(line.rstrip() for line in published_normalize(code).split("\n"))
    assert normalize_code(code) == published


@settings(max_examples=200, deadline=None)
@given(strict_code)
def test_normalisation_preserves_the_program(code: str) -> None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        assume(False)
        return
    normal = normalize_code(code)
    assert ast.dump(ast.parse(normal)) == ast.dump(tree)
    assert normalize_code(normal) == normal
    assert "#" not in "".join(
        line for line in normal.split("\n") if "'" not in line and '"' not in line
    )


_FRAGMENTS = st.sampled_from(
    [
        "x = 1",
        "y",
        " = ",
        "'a#b'",
        '"it\'s"',
        '"""doc\n\n  more  \n"""',
        "'''q\n#x\n'''",
        "# c'",
        "  # d",
        "    ",
        "\n",
        "\n\n",
        "\n    ",
        "f'{x}#'",
        "'a\\\n b'",
        "(",
        ")",
        "[",
        "]",
        "\\\n",
        "#",
        '"',
        "'",
        "if x:\n    ",
        "def f():\n    ",
        "rb'\\''",
        "\t",
    ]
)


def _lexes_cleanly(code: str) -> bool:
    """Whether tokenize gets through ``code`` without an error or an error token."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(code).readline)
        return all(tok.type != tokenize.ERRORTOKEN for tok in tokens)
    except (tokenize.TokenError, SyntaxError):
        return False


@settings(max_examples=500, deadline=None)
@given(st.one_of(strict_code, st.lists(_FRAGMENTS, max_size=30).map("".join)))
def test_compact_scan_equals_full_scan(code: str) -> None:
    # Beyond clean lexing the pure-Python tokenizer's error recovery depends on every line.
    if _lexes_cleanly(code):
        assert reward._scan(code, compact=True) == reward._scan(code, compact=False)


@pytest.mark.parametrize("module", ["argparse.py", "tokenize.py", "textwrap.py", "doctest.py"])
def test_compact_scan_equals_full_scan_on_stdlib(module: str) -> None:
    source = (Path(sysconfig.get_paths()["stdlib"]) / module).read_text(encoding="utf-8")
    full = reward._scan(source, compact=False)
    assert full[0] and full[1]  # comments and multi-line strings were found
    assert reward._scan(source, compact=True) == full


# ---------------------------------------------------------------------------- published breaks


def test_apostrophe_in_comment() -> None:
    code = "# don't touch this\nx = compute(a)\ny = 'ok'\n"
    assert normalize_code(code) == "x = compute(a)\ny = 'ok'"
    assert published_normalize(code) == ""  # the "string" from don't swallowed the code


def test_eleven_string_literals() -> None:
    code = "names = [" + ", ".join(f"'n{i}'" for i in range(12)) + "]  # twelve"
    assert normalize_code(code) == code.split("  #")[0]
    assert "'n1'0" in published_normalize(code)  # placeholder 1 rewrote placeholder 10


def test_hash_inside_strings_is_not_a_comment() -> None:
    code = 'url = "http://h/#frag"  # real comment\ns = "it\'s # not a comment"\nt = f"{x}#{y}"'
    expected = 'url = "http://h/#frag"\ns = "it\'s # not a comment"\nt = f"{x}#{y}"'
    assert normalize_code(code) == expected


def test_escaped_quote_then_comment() -> None:
    code = "s = 'it\\'s'  # note\nt = 'b'  # b's note\nu = 1"
    assert normalize_code(code) == "s = 'it\\'s'\nt = 'b'\nu = 1"


def test_strings_keep_blank_lines_and_trailing_blanks() -> None:
    code = 'def f():\n    """Title.\n\n    Body.   \n    """\n\n    x = 0   \n    return x\n'
    ours = 'def f():\n    """Title.\n\n    Body.   \n    """\n    x = 0\n    return x'
    published = 'def f():\n    """Title.\n    Body.   \n    """\n    x = 0   \n    return x'
    assert normalize_code(code) == ours
    assert published_normalize(code) == published


def test_line_continuation_inside_string_is_kept() -> None:
    code = "s = 'a\\\n   '\n\n# c\nt = 2"
    assert normalize_code(code) == "s = 'a\\\n   '\nt = 2"


def test_comment_only_and_empty_code() -> None:
    for code in ("", "\n\n", "# a\n    # b\n", "   "):
        assert normalize_code(code) == ""


def test_crlf_line_endings() -> None:
    assert normalize_code("x = 1  # c\r\n\r\ny = 2\r\n") == "x = 1\ny = 2"
    assert normalize_code("x = 1\ry = 2") == "x = 1\ny = 2"


def test_untokenizable_reference_falls_back() -> None:
    # Unbalanced indentation: tokenize gives up at line 3; the comment on line 1 is still dropped.
    code = "if a:  # c\n        b = 1\n    c = 2   \n\n"
    assert normalize_code(code) == "if a:\n        b = 1\n    c = 2"
    # An unterminated string: nothing after it is treated as a comment.
    assert normalize_code("x = 1  # c\ns = '''open\n\n# not removed") == (
        "x = 1\ns = '''open\n# not removed"
    )


# ---------------------------------------------------------------------------- ES*, EM*, ES-AST


def test_es_star_values() -> None:
    target = "import numpy as np\nx = np.float64(1)\n"
    exact = answer("import numpy as np\n\n# migrated\nx = np.float64(1)  # was float_")
    near = answer("import numpy as np\nx = np.float_(1)")
    expected_near = (1 - 2 / len("import numpy as np\nx = np.float64(1)")) * 3.5 - 1.5
    assert es_star([exact, near], new_code=[target, target]) == [2.0, expected_near]


@pytest.mark.parametrize(
    "completion",
    [
        "no answer at all",
        "t</think>```python\nx = 1\n```",  # a block, but not in an answer
        "t</think><answer>x = 1</answer>",
        answer("x = (1"),
        answer("def f(:\n    pass"),
        answer("x = 1\0"),  # ValueError from the parser on 3.11
        answer("(" * 300 + ")" * 300),  # too deeply nested for the parser
    ],
)
def test_invalid_answers_score_minus_two(completion: str) -> None:
    for fn in (es_star, em_star, es_ast):
        assert fn([completion], new_code=["x = 1"]) == [INVALID]


def test_empty_answer_and_empty_reference() -> None:
    empty = "t</think><answer>\n```python\n```\n</answer>"
    assert es_star([empty], new_code=[""]) == [2.0]
    assert es_star([empty], new_code=["# nothing\n"]) == [2.0]
    assert es_star([empty], new_code=["x = 1"]) == [-1.5]
    assert em_star([empty], new_code=[""]) == [2.0]
    assert es_ast([empty], new_code=[""]) == [2.0]
    with pytest.raises(ZeroDivisionError):
        published_es_star(answer(""), "")


def test_indented_block_is_dedented() -> None:
    completion = answer("    if a:\n        b = 1\n    c = 2")
    assert es_star([completion], new_code=["if a:\n    b = 1\nc = 2"]) == [2.0]
    assert published_es_star(completion, "if a:\n    b = 1\nc = 2") == -2.0


def test_last_answer_is_scored_not_code_in_thinking() -> None:
    completion = (
        "Draft:\n```python\nx = old()\n```\n</think>\n"
        "<answer>\n```python\nx = new()\n```\n</answer>"
    )
    assert es_star([completion], new_code=["x = new()"]) == [2.0]
    assert published_es_star(completion, "x = new()") < 2.0


def test_em_star_values() -> None:
    target = "y = f(a)\n"
    got = em_star(
        [answer("y = f(a)  # ok\n\n"), answer("y = f(b)"), answer("y = f("), "none"],
        new_code=[target] * 4,
    )
    assert got == [2.0, -1.5, -2.0, -2.0]


def test_es_ast_ignores_formatting_but_not_content() -> None:
    target = "d = dict(a='x', b=2)"
    same = answer('d = dict(a = "x",\n         b = 2)  # same')
    assert es_ast([same], new_code=[target]) == [2.0]
    lower = es_ast([answer("d = dict(a='x', c=2)")], new_code=[target])[0]
    assert -1.5 <= lower < 2.0
    assert es_star([answer('d = dict(a = "x",\n         b = 2)')], new_code=[target])[0] < 2.0
    # A reference that does not parse is compared in its normalised text form.
    assert es_ast([answer("x = 1")], new_code=["x = 1  # c\n"]) == [2.0]
    assert es_ast([answer("x = (1)")], new_code=["x = (1  # broken"])[0] < 2.0


@settings(max_examples=100, deadline=None)
@given(strict_code, strict_code)
def test_reward_ranges(candidate: str, target: str) -> None:
    completion = answer(candidate)
    for fn in (es_star, es_ast):
        value = fn([completion], new_code=[target])[0]
        assert value == INVALID or -1.5 <= value <= 2.0
    assert em_star([completion], new_code=[target])[0] in (2.0, -1.5, -2.0)


# ---------------------------------------------------------------------------- format


@pytest.mark.parametrize(
    ("completion", "ok"),
    [
        ("plan</think>\n<answer>\n```python\nx = 1\n```\n</answer>", True),
        ("plan</think><answer></answer>", True),
        ("</think>  \n\t<answer>x</answer>\n\n", True),
        ("a < b and c<d</think><answer>1 < 2</answer>", True),
        ("plan</think><answer>a</answer><answer>b</answer>", True),  # as published
        ("plan</think>\nprose\n<answer>x</answer>", False),
        ("plan</think><answer>x</answer> and more", False),
        ("plan<think>again</think><answer>x</answer>", False),
        ("plan</think></think><answer>x</answer>", False),
        ("plan<answer>x</answer>", False),
        ("plan</think><answer>x", False),
        ("", False),
    ],
)
def test_format_reward_cases(completion: str, ok: bool) -> None:
    assert has_valid_format(completion) is ok
    assert format_reward([completion]) == [1.0 if ok else -1.0]
    assert published_format(completion) == (1.0 if ok else -1.0)


_TAG_SOUP = st.lists(
    st.sampled_from(
        ["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "x", "<", "/", ">"]
    ),
    max_size=14,
).map("".join)


@settings(max_examples=500)
@given(_TAG_SOUP)
def test_format_reward_equals_published_regex(completion: str) -> None:
    assert format_reward([completion]) == [published_format(completion)]


# ---------------------------------------------------------------------------- TRL calling form


def test_conversational_completions_and_extra_kwargs() -> None:
    text = "ok</think><answer>```python\nz = 0\n```</answer>"
    plain = [text, "bad"]
    chat = [[{"role": "assistant", "content": text}], [{"role": "assistant", "content": "bad"}]]
    # What TRL 1.16's GRPOTrainer passes besides the dataset columns.
    kwargs = {
        "prompts": ["p", "p"],
        "completion_ids": [[1], [2]],
        "dependency": ["a", "b"],
        "trainer_state": object(),
        "log_extra": print,
        "log_metric": print,
    }
    for fn in (format_reward, es_star, em_star, es_ast, recode_reward):
        assert fn(chat, new_code=["z = 0", "z = 0"], **kwargs) == fn(plain, new_code=["z = 0"] * 2)
    assert recode_reward(plain, new_code=["z = 0"] * 2) == [3.0, -3.0]


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="2 completions but 1"):
        es_star(["a", "b"], new_code=["x"])


def test_rewards_are_registered_once_and_configs_name_them():
    import typing

    from recode.training.config import ConfigError, RewardName, TrainConfig, load_config

    assert reward.REWARDS == {
        "format": reward.format_reward,
        "es_star": reward.es_star,
        "em_star": reward.em_star,
        "es_ast": reward.es_ast,
    }
    assert typing.get_args(RewardName) == tuple(reward.REWARDS)
    assert ", ".join(reward.REWARDS) in next(
        f.metadata["help"] for f in dataclasses.fields(TrainConfig) if f.name == "rewards"
    )
    assert load_config(overrides=["rewards=es_ast"]).rewards == ["es_ast"]
    with pytest.raises(ConfigError, match="one of format, es_star, em_star, es_ast"):
        load_config(overrides=["rewards=bleu"])
    with pytest.raises(ValueError, match="registered twice"):
        reward.reward("format")(reward.es_star)
