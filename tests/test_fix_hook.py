"""The ``hook`` fix kind: scikit-learn's ``_more_tags`` returning a dict literal becomes
``__sklearn_tags__`` setting the new tags (record scikit-learn-1.7-BaseEstimator-_more_tags),
exact output; and what it leaves to a person, with the reason."""

from __future__ import annotations

import pytest
from packaging.version import Version

from recode.dataset.knowledge import FixKind, RecordError, load_knowledge_base
from recode.server.detector import Detector
from recode.server.fixes import fix_source
from recode.server.severity import LibraryVersion

RECORD = "scikit-learn-1.7-BaseEstimator-_more_tags"


@pytest.fixture(scope="module")
def detector():
    kb = load_knowledge_base()
    return Detector(kb, {"scikit-learn": LibraryVersion(Version("1.9.1"), "target")})


def findings(detector, source: str):
    return [f for f in detector.detect(source.encode()) if f.record.id == RECORD]


def fixed(detector, source: str, unsafe: bool = True) -> str:
    return fix_source(source.encode(), detector, unsafe=unsafe).source.decode()


HEAD = "from sklearn.base import BaseEstimator, TransformerMixin\n\n\n"


def test_each_mapped_key_sets_its_field_on_the_bases_tags(detector):
    source = HEAD + (
        "class Imputer(TransformerMixin, BaseEstimator):\n"
        "    def fit(self, X, y=None):\n"
        "        return self\n"
        "\n"
        "    def _more_tags(self):\n"
        '        """The imputer\'s tags."""\n'
        "        return {\n"
        '            "allow_nan": True,\n'
        "            'requires_y': self.supervised,\n"
        '            "_skip_test": not self.checked,\n'
        "        }\n"
        "\n"
        "    def transform(self, X):\n"
        "        return X\n"
    )
    assert fixed(detector, source) == HEAD + (
        "class Imputer(TransformerMixin, BaseEstimator):\n"
        "    def fit(self, X, y=None):\n"
        "        return self\n"
        "\n"
        "    def __sklearn_tags__(self):\n"
        '        """The imputer\'s tags."""\n'
        "        tags = super().__sklearn_tags__()\n"
        "        tags.input_tags.allow_nan = True\n"
        "        tags.target_tags.required = self.supervised\n"
        "        tags._skip_test = not self.checked\n"
        "        return tags\n"
        "\n"
        "    def transform(self, X):\n"
        "        return X\n"
    )


def test_a_one_line_method_and_tabs(detector):
    source = HEAD + "class A(BaseEstimator):\n\tdef _more_tags(self): return {'pairwise': True}\n"
    assert fixed(detector, source) == HEAD + (
        "class A(BaseEstimator):\n"
        "\tdef __sklearn_tags__(self):\n"
        "\t    tags = super().__sklearn_tags__()\n"
        "\t    tags.input_tags.pairwise = True\n"
        "\t    return tags\n"
    )
    source = HEAD + "class A(BaseEstimator):\n\tdef _more_tags(self):\n\t\treturn {}\n"
    assert fixed(detector, source) == HEAD + (
        "class A(BaseEstimator):\n"
        "\tdef __sklearn_tags__(self):\n"
        "\t\ttags = super().__sklearn_tags__()\n"
        "\t\treturn tags\n"
    )


def test_the_fix_is_unsafe(detector):
    source = HEAD + "class A(BaseEstimator):\n    def _more_tags(self):\n        return {}\n"
    assert fixed(detector, source, unsafe=False) == source
    [f] = findings(detector, source)
    assert "super()._more_tags()" in (f.fix.unsafe_because or "")


@pytest.mark.parametrize(
    "method, reason",
    [
        (
            "    def _more_tags(self):\n        return {'X_types': ['string']}\n",
            "the key 'X_types' has no exact new attribute: a person must choose one",
        ),
        (
            "    def _more_tags(self):\n        return {'allow_nan': True, **BASE}\n",
            "the dict holds `**BASE`, not a key and its value",
        ),
        (
            "    def _more_tags(self):\n        tags = _return_tags()\n        tags['allow_nan'] = True\n"
            "        return tags\n",
            "the method does more than return a dict literal",
        ),
        (
            "    def _more_tags(self):\n        return dict(allow_nan=True)\n",
            "the method returns something other than a dict literal",
        ),
        (
            "    def _more_tags(self):\n        return {KEY: True}\n",
            "the key `KEY` is not a plain string literal",
        ),
        (
            "    def _more_tags(self):\n        return {'allow_nan': True}  # see #12\n",
            "a comment in the method: where it goes is for a person to decide",
        ),
        (
            "    @cache\n    def _more_tags(self):\n        return {'allow_nan': True}\n",
            "the method is decorated",
        ),
        (
            "    def _more_tags(self, deep=True):\n        return {'allow_nan': True}\n",
            "the method takes arguments besides self",
        ),
        (
            "    def _more_tags(self):\n        return {'allow_nan': tags}\n",
            "the value of 'allow_nan' reads a name `tags`, which the method binds",
        ),
        (
            "    def _more_tags(self):\n        return {'allow_nan': (\n            True)}\n",
            "the value of 'allow_nan' spans lines",
        ),
    ],
)
def test_what_is_left_to_a_person_says_why(detector, method, reason):
    source = HEAD + "class A(BaseEstimator):\n" + method
    [f] = findings(detector, source)
    assert f.edits is None and f.fix_unavailable == reason
    assert fixed(detector, source) == source


def test_a_hook_fix_needs_its_method_and_its_map():
    good = {"kind": "hook", "to": "__sklearn_tags__", "map": {"allow_nan": "input_tags.allow_nan"}}
    assert FixKind.HOOK.parse(good, None).literals == (("allow_nan", "input_tags.allow_nan"),)
    for bad in ({**good, "to": "a.b"}, {**good, "map": {}}, {**good, "map": {"k": "a..b"}}):
        with pytest.raises(RecordError, match="a hook fix needs"):
            FixKind.HOOK.parse(bad, None)
