"""Issue #18: grading verdicts decided deliberately (ssdlib.grading.policy).

Percentages (one reading per gold: a fraction gold reads ``p\\%`` as p/100, any other gold as
p), units inside ``\\text{}``, nested boxes, and numbers of extreme magnitude (a relative test,
never only math-verify's absolute ~1e-15 cut-off). Each case runs through grade_samples in ONE
batch (the real path: extraction in the parent, math-verify in killable workers); responses
are shaped like a thinking model's output.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ssdlib.grading import extract, grade_samples

T = "<think>\nCount the cases, then simplify.\n</think>\nThe answer is "

# (id, boxed answer, gold, expected correct); a comment gives the verdict before #18 where it differs
CASES: list[tuple[str, str, str, bool]] = [
    # percentages: the gold's form picks the reading
    ("pct_vs_fraction_gold", r"50\%", r"\frac{1}{2}", True),
    ("pct_vs_integer_gold", r"50\%", "50", True),
    ("pct_vs_decimal_fraction_gold", r"25\%", "0.25", True),
    ("pct_vs_decimal_number_gold", r"12.5\%", "12.5", True),  # before #18: wrong
    ("pct_fraction_reading_on_integer_gold", r"200\%", "2", False),  # before #18: correct
    ("pct_of_a_fraction_vs_fraction_gold", r"\frac{1}{2}\%", r"\frac{1}{2}", False),
    ("pct_gold_number_pred", "50", r"50\%", True),
    ("pct_gold_pct_pred", r"50\%", r"50\%", True),
    ("pct_gold_fraction_pred", r"\frac{1}{2}", r"50\%", False),  # before #18: correct
    ("pct_gold_decimal_pred", "0.5", r"50\%", False),  # before #18: correct
    ("pct_wrong_number", r"40\%", r"\frac{1}{2}", False),
    # units inside \text{} when the gold has none
    ("text_number_and_unit", r"\text{5 apples}", "5", True),  # before #18: wrong
    ("textrm_number_and_unit", r"\textrm{12 cm}", "12", True),  # before #18: wrong
    ("text_wrong_number", r"\text{6 apples}", "5", False),
    ("text_not_a_unit", r"\text{5 or more}", "5", False),
    ("unit_after_number", r"5\text{ apples}", "5", True),
    ("text_gold_is_words", r"\text{Monday}", r"\text{Monday}", True),
    # nested boxes
    ("nested_box", r"\boxed{3}", "3", True),
    ("nested_box_wrong", r"\boxed{4}", "3", False),
    # extreme magnitudes: exact or relative, never an absolute tolerance near zero
    ("reciprocal_factorials", r"\frac{1}{101!}", r"\frac{1}{100!}", False),  # before #18: correct
    (
        "reciprocal_huge_factorials",
        r"\frac{1}{100001!}",
        r"\frac{1}{100000!}",
        False,
    ),  # before #18: correct
    ("huge_tower_identical", r"10^{10^{10}}", r"10^{10^{10}}", True),  # evaluated, never expanded
    ("reciprocal_factorial_same", r"\frac{1}{100!}", r"\frac{1}{100!}", True),
    ("reciprocal_factorial_other_form", r"\frac{1}{100 \cdot 99!}", r"\frac{1}{100!}", True),
    ("tiny_powers", r"2^{-101}", r"2^{-100}", False),  # before #18: correct
    ("tiny_scientific", r"2 \cdot 10^{-100}", r"10^{-100}", False),  # before #18: correct
    ("tiny_decimal_close", r"1.00000001 \cdot 10^{-20}", r"10^{-20}", True),
    ("tiny_decimal_far", r"1.4 \cdot 10^{-20}", r"10^{-20}", False),  # before #18: correct
    # before #18: correct
    (
        "tiny_in_a_tuple",
        r"\left(\frac{1}{101!}, 2\right)",
        r"\left(\frac{1}{100!}, 2\right)",
        False,
    ),
    ("tiny_assignment", r"x = \frac{1}{101!}", r"x = \frac{1}{100!}", False),  # before #18: correct
    ("huge_off_by_one", r"10^{100} + 1", r"10^{100}", False),
    ("huge_same_other_form", r"(10^{50})^{2}", r"10^{100}", True),
    ("decimal_of_a_third", "0.333333", r"\frac{1}{3}", True),
    ("sqrt_forms", r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}", True),
]


@pytest.fixture(scope="module")
def graded() -> pd.DataFrame:
    samples = pd.DataFrame(
        {
            "prompt_id": [c[0] for c in CASES],
            "response": [f"{T}$\\boxed{{{c[1]}}}$." for c in CASES],
            "answer": [c[2] for c in CASES],
            "finish_reason": "stop",
        }
    )
    return grade_samples(samples, timeout_s=10.0, workers=2).set_index("prompt_id")


@pytest.mark.parametrize(("case", "pred", "gold", "expected"), CASES, ids=[c[0] for c in CASES])
def test_policy_table(graded, case, pred, gold, expected):
    row = graded.loc[case]
    assert not row["timed_out"], f"{case} timed out"
    why = f"{case}: extracted={row['extracted']!r} note={row['grade_note']!r}"
    assert bool(row["correct"]) is expected, why


def test_nested_boxes_are_unwrapped_at_extraction():
    assert extract(T + r"\boxed{\boxed{3}}").extracted == "3"
    assert extract(T + r"\boxed{\fbox{ \boxed{3} }}").extracted == "3"
    assert extract(T + r"\boxed{a \boxed{b}}").extracted == r"a \boxed{b}"  # not the whole answer


def test_fraction_gold_rule():
    from sympy import Float, Integer, Rational

    from ssdlib.grading.policy import gold_is_fraction

    assert gold_is_fraction(r"\frac{1}{2}", Rational(1, 2))
    assert gold_is_fraction("0.25", Float("0.25"))
    assert not gold_is_fraction("12.5", Float("12.5"))
    assert gold_is_fraction(r"\frac{25}{2}", Rational(25, 2))
    assert not gold_is_fraction("50", Integer(50))


def test_units_rewrite_leaves_claims_and_expressions_alone():
    from ssdlib.grading.policy import units_out_of_text

    assert units_out_of_text(r"\text{5 apples}") == r"5\text{ apples}"
    assert units_out_of_text(r"\text{1,000 dollars}") == r"1000\text{ dollars}"
    assert units_out_of_text(r"\text{5 or 6}") == r"\text{5 or 6}"
    assert units_out_of_text(r"\text{at least 5}") == r"\text{at least 5}"
    assert units_out_of_text(r"\text{5 or more}") == r"\text{5 or more}"
