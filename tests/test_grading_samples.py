"""The table API: gold lookup, order, dtypes, unfinished samples, and the gold-vs-gold check."""

from __future__ import annotations

import pandas as pd
import pytest

from ssdlib.grading import answers_equivalent, answers_equivalent_batch, grade_one, grade_samples
from ssdlib.schema import GRADE_COLUMNS

PROBLEMS = pd.DataFrame({"id": ["a", "b", "c"], "answer": ["7", r"\frac{1}{2}", ""]})


def _samples() -> pd.DataFrame:
    # Deliberately shuffled prompts and a non-default index: both must survive grading.
    return pd.DataFrame(
        {
            "prompt_id": ["b", "a", "a", "b", "c", "a"],
            "sample_idx": [0, 0, 1, 1, 0, 2],
            "response": [
                "</think>\\boxed{0.5}",
                "</think>\\boxed{7}",
                "</think>\\boxed{7}",  # same candidate as above: checked once, graded twice
                "</think>\\boxed{7}",  # same candidate, different gold: must NOT be correct
                "</think>\\boxed{1}",
                "<think>\\boxed{7}",
            ],
            "finish_reason": ["stop", "stop", "length", "stop", "stop", "length"],
        },
        index=[10, 3, 7, 1, 42, 5],
    )


def test_grade_samples_joins_problems_and_keeps_order():
    samples = _samples()
    out = grade_samples(samples, PROBLEMS, workers=2)
    assert list(out.index) == [10, 3, 7, 1, 42, 5]
    assert list(out.columns[: len(samples.columns)]) == list(samples.columns)
    assert set(GRADE_COLUMNS) <= set(out.columns)
    assert out["correct"].tolist() == [True, True, False, False, False, False]
    assert out["length_stop"].tolist() == [False, False, True, False, False, True]
    assert out["boxed"].tolist() == [True, True, True, True, True, False]
    assert out["think_closed"].tolist() == [True, True, True, True, True, False]
    assert out.loc[42, "grade_note"] == "no_gold"
    assert out.loc[7, "extracted"] == "7"  # extracted even though never credited
    for col in ("correct", "boxed", "think_closed", "length_stop", "timed_out"):
        assert out[col].dtype == bool
    assert "answer" not in out.columns  # the join does not leak the gold into the table
    assert "extracted" not in samples.columns  # input untouched


def test_gold_column_in_samples_wins():
    samples = _samples().assign(answer="7")
    out = grade_samples(samples, workers=1)
    assert out["correct"].tolist() == [False, True, False, True, False, False]


def test_abort_is_never_correct():
    assert grade_one("\\boxed{7}", "7", "abort")["correct"] is False
    assert grade_one("\\boxed{7}", "7", "stop")["correct"] is True


def test_missing_gold_sources_raise():
    with pytest.raises(ValueError, match="no 'answer' column"):
        grade_samples(_samples())
    with pytest.raises(ValueError, match="not in problems"):
        grade_samples(_samples(), PROBLEMS[PROBLEMS["id"] != "b"])
    with pytest.raises(ValueError, match="missing required column 'finish_reason'"):
        grade_samples(_samples().drop(columns="finish_reason"), PROBLEMS)


def test_grade_one_keys():
    out = grade_one("<think>x</think>\\boxed{1/2}", "0.5")
    assert set(out) == {*GRADE_COLUMNS, "grade_note"}
    assert out == {
        "extracted": "1/2",
        "correct": True,
        "boxed": True,
        "think_closed": True,
        "length_stop": False,
        "timed_out": False,
        "grade_note": None,
    }


def test_unparseable_gold_is_flagged():
    out = grade_one("\\boxed{7}", "\\frac{")
    assert out["correct"] is False and out["grade_note"] == "gold_unparsed"


def test_answers_equivalent():
    assert answers_equivalent(r"\frac{3}{4}", "0.75") is True
    assert answers_equivalent("3", "4") is False
    # verify() is asymmetric on assignments; gold-vs-gold uses either direction.
    assert answers_equivalent("x=2", "2") is True
    assert answers_equivalent("2", "x=2") is True
    assert answers_equivalent("", "2") is None
    pairs = [("1/2", "0.5"), ("1", "2"), ("", "1"), ("1/2", "0.5"), (r"\{1,2\}", r"\{2,1\}")]
    assert answers_equivalent_batch(pairs, workers=2) == [True, False, None, True, True]
    assert answers_equivalent_batch([]) == []


def test_missing_gold_values_are_no_gold():
    samples = pd.DataFrame(
        {
            "prompt_id": ["a", "b", "c"],
            "response": ["\\boxed{7}"] * 3,
            "finish_reason": "stop",
            "answer": pd.array([None, "7", pd.NA], dtype="string"),
        }
    )
    out = grade_samples(samples, workers=1)
    assert out["correct"].tolist() == [False, True, False]
    assert out["grade_note"].tolist() == ["no_gold", None, "no_gold"]


def test_grading_works_from_a_non_main_thread():
    # math-verify's signal.alarm timeouts raise outside the main thread; workers run them
    # in their own main thread, so a notebook's background thread can grade too.
    import threading

    out: dict = {}
    t = threading.Thread(target=lambda: out.update(r=grade_one(r"\boxed{\frac{3}{4}}", "0.75")))
    t.start()
    t.join(timeout=60)
    assert out["r"]["correct"] is True
