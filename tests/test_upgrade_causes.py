"""recode-upgrade's map from test errors to knowledge-base records, on real failures: the JUnit
XML of tests/data/upgrade/test_errors.py.txt run by pytest under numpy 2.4.6 and pandas 3.1.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from recode.dataset.knowledge import KnowledgeBase, load_knowledge_base
from recode.server.upgrade.causes import PATTERNS, CauseKind, FoundAt, classify, error_lines
from recode.server.upgrade.plan import findings_at
from recode.server.upgrade.testrun import parse_junit

DATA = Path(__file__).parent / "data" / "upgrade"
UPGRADED = {"numpy": "2.4.6", "pandas": "3.1.1", "scikit-learn": "1.9.1"}


@pytest.fixture(scope="module")
def failures():
    results = parse_junit((DATA / "junit-numpy-2.4.6-pandas-3.1.1.xml").read_text("utf-8"))
    return {k: r for k, r in results.items() if r.outcome.bad}


@pytest.fixture(scope="module")
def more():
    """tests/data/upgrade/test_more_errors.py.txt under numpy 2.4.6, pandas 3.1.1 and
    scikit-learn 1.9.1: errors seaborn 0.12.2's and MAPIE 0.6.5's tests end on (a removed
    option, a deprecation made an error, a changed result, a constructor's removed keyword, an
    estimator not derived from BaseEstimator, a one-element array made a scalar)."""
    xml = (DATA / "junit-more-numpy-2.4.6-pandas-3.1.1-scikit-learn-1.9.1.xml").read_text("utf-8")
    return {k: r for k, r in parse_junit(xml).items() if r.outcome.bad}


@pytest.fixture(scope="module")
def numpy_errors():
    """tests/data/upgrade/test_numpy_errors.py.txt under numpy 2.4.6."""
    xml = (DATA / "junit-numpy-errors-numpy-2.4.6.xml").read_text("utf-8")
    return {k: r for k, r in parse_junit(xml).items() if r.outcome.bad}


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


@pytest.mark.parametrize(
    ("test_id", "record"),
    [
        ("tests.test_collect", "numpy-2.0-product"),  # a module that fails to import
        ("tests.test_errors::test_float_", "numpy-2.0-float_"),  # NumPy's own message
        ("tests.test_errors::test_product", "numpy-2.0-product"),
        ("tests.test_errors::test_import_name", "numpy-2.0-alltrue"),
        ("tests.test_errors::test_df_append", "pandas-2.0-DataFrame-append"),
        ("tests.test_errors::test_type_object", "pandas-2.0-Series-iteritems"),
        ("tests.test_errors::test_read_csv_keyword", "pandas-2.0-read_csv-error_bad_lines"),
        ("tests.test_errors::test_module", "pandas-2.0-util-testing"),
        # pandas 3's "Invalid frequency: H": the value record of the callable the test calls
        ("tests.test_errors::test_frequency", "pandas-3.0-date_range-freq-H"),
    ],
)
def test_real_failures_map_to_their_records(failures, kb, test_id, record):
    r = failures[test_id]
    cause = classify(r.message, r.text, kb, UPGRADED, collection=r.collection)
    assert cause.kind is CauseKind.KNOWN
    assert cause.record is not None and cause.record.id == record


def test_a_pandas_message_without_a_record_is_an_unknown_break(failures, kb):
    r = failures["tests.test_errors::test_frequency"]
    cause = classify(r.message, r.text, KnowledgeBase([], []), UPGRADED)
    assert cause.kind is CauseKind.UNKNOWN
    assert cause.candidate == {
        "library": "pandas",
        "symbol": "pandas: value 'H'",
        "kind": "signature",
        "version": "3.1.1",
    }
    r = failures["tests.test_errors::test_no_longer_supported"]
    cause = classify(r.message, r.text, kb, UPGRADED)
    assert cause.kind is CauseKind.UNKNOWN and cause.library == "pandas"


def test_a_refused_connection_is_unrelated(failures, kb):
    r = failures["tests.test_errors::test_unrelated"]
    assert classify(r.message, r.text, kb, UPGRADED).kind is CauseKind.UNRELATED


def test_without_a_record_the_candidate_names_the_symbol(failures):
    empty = KnowledgeBase([], [])
    r = failures["tests.test_errors::test_float_"]
    cause = classify(r.message, r.text, empty, UPGRADED)
    assert cause.kind is CauseKind.UNKNOWN
    assert cause.candidate == {
        "library": "numpy",
        "symbol": "numpy.float_",
        "kind": "removed",
        "version": "2.4.6",
    }
    r = failures["tests.test_errors::test_read_csv_keyword"]
    cause = classify(r.message, r.text, empty, UPGRADED)
    assert cause.candidate is not None
    assert cause.candidate["symbol"] == "read_csv(error_bad_lines)"
    assert cause.candidate["kind"] == "signature"


def test_a_missing_module_outside_the_upgrade_is_unrelated(kb):
    line = "E   ModuleNotFoundError: No module named 'hypothesis'"
    assert classify("", line, kb, UPGRADED).kind is CauseKind.UNRELATED


@pytest.mark.parametrize(
    ("test_id", "record"),
    [
        ("tests.test_more_errors::test_option_removed", "pandas-3.0-options-mode-use_inf_as_na"),
        (
            "tests.test_more_errors::test_deprecation_as_error",
            "pandas-2.1-api-types-is_categorical_dtype",
        ),
        # regression: MAPIE 0.6.5's 158 tests on `LogisticRegression.__init__() got an
        # unexpected keyword argument 'multi_class'` were unknown breaks
        (
            "tests.test_more_errors::test_removed_constructor_keyword",
            "scikit-learn-1.8-LogisticRegression-multi_class",
        ),
        # regression: feature_engine 1.6.2's 18 tests on its estimators' _more_tags
        (
            "tests.test_more_errors::test_tags_method_renamed",
            "scikit-learn-1.7-BaseEstimator-_more_tags",
        ),
        # regression: MAPIE 0.6.5's 122 tests on its duck-typed test estimators
        # (`'ArrayOutputModel' object has no attribute '__sklearn_tags__'`) were unknown breaks
        (
            "tests.test_more_errors::test_estimator_without_base_class",
            "scikit-learn-1.8-get_tags-without-sklearn_tags",
        ),
        # regression: MAPIE 0.6.5's 31 tests on `coverages[a, i] = f(...)` with a
        # one-element array (`setting an array element with a sequence.`)
        ("tests.test_more_errors::test_array_to_scalar_assignment", "numpy-2.4-ndarray-to-scalar"),
        ("tests.test_more_errors::test_array_to_scalar_float", "numpy-2.4-ndarray-to-scalar"),
        # a private method a user's estimator inherited: the message names the subclass
        # (imbalanced-learn 0.10.1's `'ValueDifferenceMetric' object has no attribute
        # '_validate_data'`, once its imports are fixed by hand)
        (
            "tests.test_more_errors::test_private_base_method_moved",
            "scikit-learn-1.7-BaseEstimator-_validate_data",
        ),
        # regression: imbalanced-learn 0.10.1's import-time breaks on scikit-learn's private API
        # (all 365 of its broken tests) were unknown breaks: a keyword now required ...
        (
            "tests.test_more_errors::test_required_keyword_added",
            "scikit-learn-1.3-validate_params-prefer_skip_nested_validation",
        ),
        # ... and names renamed or moved in private modules
        (
            "tests.test_more_errors::test_private_name_renamed",
            "scikit-learn-1.3-param_validation-_MissingValues",
        ),
        (
            "tests.test_more_errors::test_private_function_moved",
            "scikit-learn-1.5-utils-_print_elapsed_time",
        ),
        (
            "tests.test_more_errors::test_private_testing_helper_moved",
            "scikit-learn-1.6-testing-assert_no_warnings",
        ),
        (
            "tests.test_more_errors::test_private_reexport_gone",
            "scikit-learn-1.5-utils-parse_version",
        ),
    ],
)
def test_more_real_failures_map_to_their_records(more, kb, test_id, record):
    """regression: seaborn 0.12.2's 23 tests on the removed option and one on the deprecation
    were unknown breaks."""
    r = more[test_id]
    cause = classify(r.message, r.text, kb, UPGRADED)
    assert cause.kind is CauseKind.KNOWN
    assert cause.record is not None and cause.record.id == record


def test_a_failed_assertion_is_a_changed_result_not_unrelated(more, kb):
    """regression: a test that passed at the baseline and whose assertion fails at the target
    was "unrelated", labelled by pytest's last explanation line (``+  where ...``)."""
    r = more["tests.test_more_errors::test_behaviour_assertion"]
    cause = classify(r.message, r.text, kb, UPGRADED)
    assert cause.kind is CauseKind.UNKNOWN
    assert cause.error == "AssertionError: assert 2 == (2 + 1)"
    assert classify(r.message, r.text, kb, UPGRADED, collection=True).kind is CauseKind.UNRELATED


def test_a_library_not_installed_is_unrelated_not_its_first_record(kb):
    """regression: MAPIE 0.6.5's test module importing pandas, which its environments lack,
    was put down to pandas-2.0-Int64Index (the first record under ``pandas.``)."""
    line = "E   ModuleNotFoundError: No module named 'pandas'"
    cause = classify("", line, kb, UPGRADED, collection=True)
    assert cause.kind is CauseKind.UNRELATED and cause.record is None


def test_every_pattern_matches_a_real_error_line(failures, more, numpy_errors, pandas3):
    runs = [*failures.values(), *more.values(), *numpy_errors.values(), *pandas3.values()]
    lines = [line for r in runs for line in error_lines(r.message, r.text)]
    for pattern in PATTERNS:
        assert any(pattern.regex.search(line) for line in lines), pattern.regex.pattern


def test_a_required_keyword_is_not_an_unexpected_one(kb):
    """A record whose ``unless_keyword`` is the keyword a call now lacks is its cause; the same
    keyword refused (``got an unexpected keyword argument``) is not that record's."""
    line = (
        "E   TypeError: validate_params() missing 1 required keyword-only argument:"
        " 'prefer_skip_nested_validation'"
    )
    cause = classify("", line, kb, UPGRADED)
    assert cause.record is not None
    assert cause.record.id == "scikit-learn-1.3-validate_params-prefer_skip_nested_validation"
    line = "E   TypeError: KMeans.__init__() missing 1 required keyword-only argument: 'n_init'"
    assert classify("", line, kb, UPGRADED).record.id == "scikit-learn-1.4-KMeans-n_init"
    line = "E   TypeError: KMeans.__init__() got an unexpected keyword argument 'n_init'"
    assert classify("", line, kb, UPGRADED).record is None


def test_a_dotted_object_is_found(kb):
    """regression: NumPy 2.4 names ndarray with its module (``self.magnitude.ptp()`` in
    quantities 0.13.0); the pattern took only undotted classes, and the error had no cause."""
    line = "E   AttributeError: 'numpy.ndarray' object has no attribute 'ptp'"
    cause = classify("", line, kb, UPGRADED)
    assert cause.record is not None and cause.record.id == "numpy-2.0-ndarray-ptp"


def test_a_dotted_type_object_is_found(kb):
    """regression: quantities 0.13.0 under numpy 2.4.6 fails to import (its class body reads
    np.ndarray.ptp) with this line, which was reported as unrelated."""
    line = "E   AttributeError: type object 'numpy.ndarray' has no attribute 'ptp'"
    cause = classify("", line, kb, UPGRADED, collection=True)
    assert cause.kind is CauseKind.KNOWN
    assert cause.record is not None and cause.record.id == "numpy-2.0-ndarray-ptp"
    cause = classify("", line, KnowledgeBase([], []), UPGRADED, collection=True)
    assert cause.kind is CauseKind.UNKNOWN
    assert cause.candidate == {
        "library": "numpy",
        "symbol": "numpy.ndarray.ptp",
        "kind": "removed",
        "version": "2.4.6",
    }


def test_numpys_copy_error_names_the_copy_record(numpy_errors, kb):
    """regression: quantities 0.13.0's tests on `np.array(other, copy=False, subok=True)` under
    NumPy 2, whose message names no API, were not put down to a record."""
    r = numpy_errors["tests.test_numpy_errors::test_copy_false_needs_a_copy"]
    cause = classify(r.message, r.text, kb, UPGRADED)
    assert cause.kind is CauseKind.KNOWN
    assert cause.record is not None and cause.record.id == "numpy-2.0-array-copy"
    cause = classify(r.message, r.text, KnowledgeBase([], []), UPGRADED)
    assert cause.kind is CauseKind.UNKNOWN and cause.library == "numpy"


def test_a_ragged_sequence_is_not_an_array_made_a_scalar(kb):
    """NumPy's error for a ragged list begins with the same words and is no upgrade's break."""
    line = (
        "E   ValueError: setting an array element with a sequence. The requested array has an"
        " inhomogeneous shape after 1 dimensions. The detected shape was (2,) + inhomogeneous part."
    )
    cause = classify("", line, kb, UPGRADED)
    assert cause.record is None


def test_a_public_name_a_user_class_lacks_is_no_library_record(kb):
    """Only a private member is looked up by its name alone: ``'Basket' object has no
    attribute 'append'`` is not pandas' DataFrame.append."""
    line = "E   AttributeError: 'Basket' object has no attribute 'append'"
    assert classify("", line, kb, UPGRADED).record is None
    line = "E   AttributeError: 'Basket' object has no attribute '_validate_data'"
    cause = classify("", line, kb, UPGRADED)
    assert cause.record is not None
    assert cause.record.id == "scikit-learn-1.7-BaseEstimator-_validate_data"
    assert classify("", line, kb, {"numpy": "2.4.6"}).record is None  # not upgraded


@pytest.fixture(scope="module")
def pandas3():
    """tests/data/upgrade/test_pandas3_errors.py.txt (as tests/test_pandas3_errors.py) under
    pandas 3.1.1: errors that name no API (feature_engine 1.6.2's and mizani 0.9.2's)."""
    xml = (DATA / "junit-pandas3-pandas-3.1.1.xml").read_text("utf-8")
    return {k: r for k, r in parse_junit(xml).items() if r.outcome.bad}


def _findings(tmp_path: Path, kb: KnowledgeBase) -> list[FoundAt]:
    """The real detector's findings in the data module, placed where the run had it."""
    (tmp_path / "tests").mkdir()
    source = (DATA / "test_pandas3_errors.py.txt").read_text("utf-8")
    (tmp_path / "tests" / "test_pandas3_errors.py").write_text(source, "utf-8")
    return [
        FoundAt(path, f.start.line + 1, f.record)
        for path, f in findings_at(tmp_path, kb, {"pandas": "3.1.1"})
    ]


def test_an_unbound_name_maps_to_the_finding_in_the_function_that_raised(pandas3, kb, tmp_path):
    """regression: feature_engine 1.6.2's 70 tests ending on ``UnboundLocalError`` in its own
    dtype checks (``if is_object(column): ... elif ...``) were unknown breaks."""
    r = pandas3["tests.test_pandas3_errors::test_unbound_after_a_dtype_check"]
    found = _findings(tmp_path, kb)
    assert [(f.path, f.line, f.record.id) for f in found] == [
        ("tests/test_pandas3_errors.py", 7, "pandas-3.0-api-types-is_object_dtype"),
        ("tests/test_pandas3_errors.py", 20, "pandas-3.0-to_numeric-errors-ignore"),
    ]
    cause = classify(r.message, r.text, kb, UPGRADED, findings=found)
    assert cause.kind is CauseKind.KNOWN
    assert cause.record is not None and cause.record.id == "pandas-3.0-api-types-is_object_dtype"
    # a finding outside the function that raised (the test's own call) is not its cause
    outside = [f for f in found if f.line == 20]
    assert classify(r.message, r.text, kb, UPGRADED, findings=outside).record is None
    assert classify(r.message, r.text, kb, UPGRADED).record is None


def test_errors_ignore_maps_to_the_record_of_the_function_called(pandas3, kb):
    """regression: feature_engine's next break, ``to_numeric(..., errors="ignore")``, whose
    message names neither the keyword nor the value."""
    r = pandas3["tests.test_pandas3_errors::test_errors_ignore"]
    cause = classify(r.message, r.text, kb, UPGRADED)
    assert cause.record is not None and cause.record.id == "pandas-3.0-to_numeric-errors-ignore"


def test_a_keyerror_out_of_series_getitem_is_the_positional_record(pandas3, kb):
    """regression: empyrical 0.5.5's 21 ``KeyError: 0`` on ``result[i]`` (a Series its own
    functions return) were unknown breaks; a KeyError with no Series frame is not that record."""
    r = pandas3["tests.test_pandas3_errors::test_a_position_read_as_a_label"]
    cause = classify(r.message, r.text, kb, UPGRADED)
    assert cause.kind is CauseKind.KNOWN
    assert cause.record is not None and cause.record.id == "pandas-3.0-Series-getitem-positional"
    own = "tests/test_x.py:3: in test_dict\n    d[0]\nE   KeyError: 0\n"
    assert classify("KeyError: 0", own, kb, UPGRADED).record is None
    frame = r.text.replace("series.py:", "frame.py:")  # a DataFrame's column: not the record
    assert classify(r.message, frame, kb, UPGRADED).record is None


def test_a_dependency_the_library_dropped_is_the_upgrades(pandas3, kb):
    """regression: mizani 0.9.2's 13 tests importing pytz, which pandas 3 no longer installs,
    were reported as unrelated to the upgrade."""
    r = pandas3["tests.test_pandas3_errors::test_pytz_not_installed"]
    cause = classify(r.message, r.text, kb, UPGRADED)
    assert cause.kind is CauseKind.KNOWN
    assert cause.record is not None and cause.record.id == "pandas-3.0-pytz-optional"
    # a package no library dropped stays unrelated
    other = r.text.replace("pytz", "yaml")
    assert classify("", other, kb, UPGRADED).kind is CauseKind.UNRELATED
