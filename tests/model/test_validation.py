"""Validation of hand-written model answers: each rule rejects with its reason, the best valid
answer wins, and a valid answer's new source is the old file with only the context replaced."""

from __future__ import annotations

import ast

import pytest

from recode.server.model.context import extract_context
from recode.server.model.validation import (
    Candidate,
    best_candidate,
    defined_names,
    validate_answer,
)
from tests.model.support import answer

SOURCE = """\
import numpy as np


def convert(a, *, kind="f8"):
    return np.cast[kind](a)
"""
GOOD = """\
import numpy as np


def convert(a, *, kind="f8"):
    return np.asarray(a, dtype=kind)"""


@pytest.fixture
def setup(detector):
    data = SOURCE.encode()
    findings = [f for f in detector.detect(data) if f.record.id == "np-cast"]
    assert len(findings) == 1 and not findings[0].fixable
    f = findings[0]
    return extract_context(data, f.start_byte, f.end_byte), detector, findings


def check(setup, completion: str) -> Candidate:
    ctx, detector, targets = setup
    return validate_answer(completion, ctx, detector, targets)


def test_a_correct_migration_is_valid_and_spliced(setup):
    c = check(setup, answer(GOOD))
    assert c.valid and c.reason is None
    assert c.new_source == (GOOD + "\n").encode()
    assert 0.5 < c.similarity < 1.0


@pytest.mark.parametrize(
    "completion, reason",
    [
        ("I am not sure.", "no <answer> block"),
        ("ok</think><answer>np.asarray(a)</answer>", "holds no ```python code block"),
        ("ok</think><answer>\n```python\n\n```\n</answer>", "code block is empty"),
        (answer("def convert(a:\n    pass"), "does not parse: '(' was never closed (line 1"),
        (answer(SOURCE.replace("import", "# the same\nimport")), "leaves the code unchanged"),
        (
            answer(GOOD.replace("np.asarray(a, dtype=kind)", "np.cast[kind](np.asarray(a))")),
            "still uses numpy.cast (line 5 of the answer)",
        ),
        (
            answer(GOOD.replace("np.asarray(a, dtype=kind)", "np.float_(a)")),
            "uses numpy.float_, which is outdated too [np-float_]",
        ),
        (answer(GOOD.replace("import numpy as np", "import numpy")), "no longer defines `np`"),
        (answer(GOOD.replace("def convert", "def to_array")), "no longer defines `convert`"),
        (
            answer(GOOD.replace('*, kind="f8"', 'kind="f8"')),
            "changes the parameters of `convert`",
        ),
    ],
)
def test_invalid_answers_are_rejected_with_the_reason(setup, completion, reason):
    c = check(setup, completion)
    assert not c.valid and c.new_source is None
    assert reason in c.reason


def test_an_answer_indented_as_a_whole_is_dedented(setup):
    c = check(setup, answer(GOOD.replace("\n", "\n  ").replace("import", "  import", 1)))
    assert c.valid and c.new_source == (GOOD + "\n").encode()


def test_best_valid_answer_is_the_closest_to_the_old_code(setup):
    far = GOOD.replace(
        "    return np.asarray(a, dtype=kind)",
        '    """Convert."""\n    result = np.asarray(a, dtype=kind)\n    return result',
    )
    candidates = [
        validate_answer(text, *setup, index=i)
        for i, text in enumerate(["garbage", answer(far), answer(GOOD), answer(GOOD)])
    ]
    assert [c.valid for c in candidates] == [False, True, True, True]
    best = best_candidate(candidates)
    assert best.index == 2  # the closer one, and the first of two equals
    assert best_candidate(candidates[:1]) is None


def test_statement_context_in_a_class(detector):
    pad = "".join(f"    attr{i} = {i}\n" for i in range(40))
    source = f"import numpy as np\n\n\nclass K:\n{pad}    table = np.cast['f8']([1])\n    end = 1\n"
    data = source.encode()
    (f,) = [f for f in detector.detect(data) if f.record.id == "np-cast"]
    ctx = extract_context(data, f.start_byte, f.end_byte)
    assert ctx.kind == "statement" and ctx.code == "table = np.cast['f8']([1])"
    c = validate_answer(answer("table = np.asarray([1], dtype='f8')"), ctx, detector, [f])
    assert c.valid
    assert c.new_source.decode() == source.replace(
        "np.cast['f8']([1])", "np.asarray([1], dtype='f8')"
    )
    lost = validate_answer(answer("np.asarray([1], dtype='f8')"), ctx, detector, [f])
    assert "no longer defines `table`" in lost.reason


def test_defined_names_ignores_nested_scopes():
    tree = ast.parse(
        "def f():\n    inner = 1\nclass C:\n    attr = 2\nwith open(p) as fh:\n    y = 1"
    )
    assert defined_names(tree) == {"f": (), "C": None, "fh": None, "y": None}


# A small file: the engine sends it whole, so an answer may leave statements out.
SCRIPT = """\
\"\"\"Load the table.\"\"\"
import numpy as np

config = {}
config["dtype"] = "f8"
print("loading")
table = np.cast["f8"]([1, 2])
if __name__ == "__main__":
    print(table)
"""


def whole_file(detector, source: str):
    """(context, detector, targets) for the one np.cast finding of a file sent whole."""
    data = source.encode()
    (f,) = [f for f in detector.detect(data) if f.record.id == "np-cast"]
    ctx = extract_context(data, f.start_byte, f.end_byte)
    assert ctx.kind == "file"
    return ctx, detector, [f]


@pytest.fixture
def script(detector):
    return whole_file(detector, SCRIPT)


def migrated_script(*, drop: str = "", replace: tuple[str, str] = ("", "")) -> str:
    """SCRIPT migrated, then ``drop`` (a whole line or block) taken out."""
    text = SCRIPT.replace('np.cast["f8"]([1, 2])', 'np.asarray([1, 2], dtype="f8")')
    assert drop in text
    return text.replace(drop, "", 1).replace(*replace)


@pytest.mark.parametrize(
    "drop, reason",
    [
        ('print("loading")\n', 'drops the statement `print("loading")` (line 6 of the old code)'),
        ('config["dtype"] = "f8"\n', 'drops the statement `config["dtype"] = "f8"` (line 5'),
        (
            'if __name__ == "__main__":\n    print(table)\n',
            'drops the statement `if __name__ == "__main__":` (line 8 of the old code)',
        ),
    ],
)
def test_a_whole_file_answer_that_drops_a_statement_is_rejected(script, drop, reason):
    c = validate_answer(answer(migrated_script(drop=drop)), *script)
    assert not c.valid and c.new_source is None
    assert reason in c.reason


@pytest.mark.parametrize(
    "change",
    [
        ("", ""),  # the migration alone
        ('"""Load the table."""\n', ""),  # a docstring may go
        ('print("loading")', 'print("loading the table")'),  # statements may change
        ('print("loading")', 'print("loading")\nprint("numpy", np.__version__)'),  # or be added
        ("table = ", "table: np.ndarray = "),  # an assignment may gain an annotation
    ],
)
def test_a_whole_file_answer_that_keeps_every_statement_is_valid(script, change):
    text = migrated_script(replace=change)
    c = validate_answer(answer(text), *script)
    assert c.valid, c.reason
    assert c.new_source == text.encode()


def test_statements_must_keep_their_order(script):
    """print("loading") moved after the assignment: one of the two is out of place."""
    moved = migrated_script(
        drop='print("loading")\n', replace=("if __name__", 'print("loading")\nif __name__')
    )
    c = validate_answer(answer(moved), *script)
    assert not c.valid and "the answer drops the statement `" in c.reason


def test_validation_parses_under_the_lock_of_fixes(script, monkeypatch):
    """CPython 3.11's ast.parse is not thread-safe: validation takes the lock the fixes take."""
    import threading

    from recode.server.fixes import python_ast
    from recode.server.model import validation

    assert validation.PARSE_LOCK is python_ast.PARSE_LOCK
    held = []
    real_parse = ast.parse

    def parse(*args, **kwargs):
        held.append(python_ast.PARSE_LOCK.locked())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(validation.ast, "parse", parse)
    assert validate_answer(answer(migrated_script()), *script).valid
    assert held and all(held)
    assert not python_ast.PARSE_LOCK.locked()
    # several threads validating at once all succeed
    results: list[bool] = []

    def work() -> None:
        for _ in range(20):
            results.append(validate_answer(answer(migrated_script()), *script).valid)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 80


# The outdated call as a statement of its own: the migration may call another function.
CALL_SCRIPT = """\
import numpy as np

print("casting")
np.cast["f8"]([1, 2])
print("done")
"""


@pytest.fixture
def call_script(detector):
    return whole_file(detector, CALL_SCRIPT)


def test_the_statement_asked_about_may_become_another_call(call_script):
    text = CALL_SCRIPT.replace('np.cast["f8"]([1, 2])', 'np.asarray([1, 2], dtype="f8")')
    c = validate_answer(answer(text), *call_script)
    assert c.valid, c.reason
    assert c.new_source == text.encode()


def test_the_statement_asked_about_may_not_simply_go(call_script):
    """Deleting the outdated call also 'removes' it; the other statements are matched first,
    so the answer is one statement short."""
    text = CALL_SCRIPT.replace('np.cast["f8"]([1, 2])\n', "")
    c = validate_answer(answer(text), *call_script)
    assert not c.valid
    assert "drops the statement" in c.reason
