"""The answer-equivalence adapter of the contamination rules (ssdlib.contamination.answers)."""

import sys

from ssdlib.contamination import answers

PAIRS = [
    (r"\frac{1}{2}", "0.5"),  # needs math-verify
    ("3", "4"),  # different values
    (r"$\boxed{7}$", "7"),  # equal after the string normalisation
    ("", "7"),  # unknown gold answer
    (r"(1, 2)", r"(1,2)"),  # equal after the string normalisation
]
EXPECTED = [True, False, True, None, True]


def test_string_equal_pairs_skip_math_verify():
    assert answers._answers_agree([(r"$\boxed{7}$", "7"), ("", "1")]) == [True, None]
    assert answers.LAST_PATH == "strings-only"


def test_fallback_in_process_when_grading_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "ssdlib.grading", None)  # import now raises ImportError
    assert answers._answers_agree(PAIRS) == EXPECTED
    assert answers.LAST_PATH == "inprocess"


def test_grading_workers_when_available():
    import ssdlib.grading  # noqa: F401

    assert answers._answers_agree(PAIRS) == EXPECTED
    assert answers.LAST_PATH == "grading"
