"""The labelled pair set and the measured quality of the rules (loose bounds; numbers in bench/contamination.md)."""

import pandas as pd
import pytest

from ssdlib.contamination.labelled import CATEGORIES, add_answer_agreement, evaluate_rules, labelled_pairs
from ssdlib.contamination.normalize import normalize_text

P = {"ngram": 5, "threshold_same_answer": 0.4, "threshold_diff_answer": 0.7}


@pytest.fixture(scope="module")
def pairs():
    # Answer equivalence (math-verify) once for the module: it is the slow part.
    return add_answer_agreement(labelled_pairs(0))


@pytest.fixture(scope="module")
def report(pairs):
    return evaluate_rules(pairs, **P).set_index("rule")


def test_labelled_set_shape_and_determinism(pairs):
    assert len(pairs) >= 40 * len(CATEGORIES)
    assert pairs.groupby("category").size().nunique() == 1  # balanced categories
    assert set(pairs["category"]) == set(CATEGORIES)
    again = labelled_pairs(0)
    pd.testing.assert_frame_equal(again, pairs.drop(columns="answers_agree"))
    assert not labelled_pairs(1)["problem_b"].equals(again["problem_b"])


def test_variants_are_what_their_category_says(pairs):
    by = {c: g for c, g in pairs.groupby("category")}
    # Renumbered: text differs after normalisation and the gold answer changed.
    r = by["renumbered"]
    assert (r["problem_a"].map(normalize_text) != r["problem_b"].map(normalize_text)).all()
    assert (r["answers_agree"] == False).all()  # noqa: E712  (object column of True/False/None)
    # LaTeX variants differ as raw strings but normalise to the same text.
    lx = by["latex_format"]
    assert (lx["problem_a"] != lx["problem_b"]).all()
    assert (lx["problem_a"].map(normalize_text) == lx["problem_b"].map(normalize_text)).all()
    # Answers written differently are still recognised as equivalent.
    assert (by["reworded"]["answers_agree"] == True).all()  # noqa: E712
    assert (by["unrelated_same_answer"]["answers_agree"] == True).all()  # noqa: E712


def test_answer_aware_rule_catches_light_edits_and_formatting(report):
    assert report.loc["answer_aware", "flag_rate_light_edit"] >= 0.8
    assert report.loc["answer_aware", "flag_rate_latex_format"] >= 0.95
    assert report.loc["answer_aware", "flag_rate_answer_changed"] >= 0.95
    # A single high threshold (the usual dedup) misses most light edits.
    assert report.loc["fuzzy_diff_answer", "flag_rate_light_edit"] <= 0.6


def test_answer_aware_rule_does_not_flag_on_agreeing_answers_alone(report):
    for cat in ["unrelated", "unrelated_same_answer", "boilerplate_same_answer"]:
        assert report.loc["answer_aware", f"flag_rate_{cat}"] <= 0.05, cat
    # Renumbered problems (different answers) stay mostly unflagged, unlike a low threshold alone.
    assert report.loc["answer_aware", "flag_rate_renumbered"] <= 0.4
    assert report.loc["fuzzy_low_only", "flag_rate_renumbered"] >= 0.7


def test_answer_aware_beats_each_single_threshold(report):
    aw, hi, lo = report.loc["answer_aware"], report.loc["fuzzy_diff_answer"], report.loc["fuzzy_low_only"]
    assert aw["recall"] >= hi["recall"] + 0.05
    assert aw["precision"] >= lo["precision"] + 0.05
    assert aw["precision"] >= 0.7 and aw["recall"] >= 0.6
    assert report.loc["exact", "precision"] >= 0.95
