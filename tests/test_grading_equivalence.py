"""End-to-end equivalence table: response text -> extraction -> math-verify verdict.

Every case goes through grade_samples in ONE batch (one worker pool, fast), then each case
is checked on its own so that a failure names the case. The verdicts are what a grader of
competition answers should say; where math-verify's behaviour is a choice (6-decimal
rounding, units dropped, percent = fraction) the case name says so.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ssdlib.grading import grade_samples

B = "\\boxed"
T = "<think>\nLet me work this out. Maybe \\boxed{1}? No.\n</think>\n"

# (id, response, gold, expected correct) ; finish_reason "stop", thinking auto.
CASES: list[tuple[str, str, str, bool]] = [
    # fractions
    ("frac_slash", f"So {B}{{3/4}}.", r"\frac{3}{4}", True),
    ("frac_decimal", f"{B}{{0.75}}", "3/4", True),
    ("frac_latex_vs_decimal_gold", f"{B}{{\\frac{{3}}{{4}}}}", "0.75", True),
    ("frac_dfrac_short", f"{B}{{\\dfrac34}}", r"\frac{3}{4}", True),
    ("frac_tfrac_unreduced", f"{B}{{\\tfrac{{6}}{{8}}}}", "3/4", True),
    ("frac_wrong_close", f"{B}{{0.7}}", "3/4", False),
    ("frac_inverted", f"{B}{{4/3}}", "3/4", False),
    # decimals (math-verify compares numbers rounded to 6 decimals)
    ("decimal_trailing_zero", f"{B}{{10609.0}}", "10609", True),
    ("decimal_3dp_vs_third", f"{B}{{0.333}}", "1/3", False),
    ("decimal_7dp_vs_third", f"{B}{{0.3333333}}", r"\frac13", True),
    ("decimal_half", f"{B}{{2.5}}", r"\frac{5}{2}", True),
    ("decimal_trailing_period", f"{B}{{3.}}", "3", True),
    # thousands separators
    ("thousands_comma", f"{B}{{10,609}}", "10609", True),
    ("thousands_thinspace", f"{B}{{10\\,609}}", "10609", True),
    ("thousands_thinspace_not_619", f"{B}{{10\\,609}}", "619", False),
    ("thousands_braced_comma", f"{B}{{10{{,}}609}}", "10609", True),
    # LaTeX variants
    ("latex_left_right_tuple", f"{B}{{\\left(\\frac{{1}}{{2}}, 3\\right)}}", r"(\frac12,3)", True),
    ("latex_neg_space", f"{B}{{\\!\\frac{{1}}{{2}}}}", "1/2", True),
    ("latex_thin_spaces", f"{B}{{\\left( \\frac{{1}}{{2}},\\, 3 \\right)}}", r"(\frac12, 3)", True),
    ("latex_padding", f"{B}{{  7  }}", "7", True),
    ("latex_in_math_mode", f"Hence $ {B}{{7}} $.", "7", True),
    ("fbox", "\\fbox{7}", "7", True),
    # sets / tuples / intervals
    ("set_reordered", f"{B}{{\\{{1, 2, 3\\}}}}", r"\{3,2,1\}", True),
    ("set_bare_list", f"{B}{{1, 2, 3}}", r"\{1,2,3\}", True),
    ("set_missing_element", f"{B}{{\\{{1,2\\}}}}", r"\{1,2,3\}", False),
    ("tuple_order_matters", f"{B}{{(2,1)}}", "(1,2)", False),
    ("interval_half_open", f"{B}{{[1,2)}}", "[1,2)", True),
    ("interval_closed_vs_half_open", f"{B}{{[1,2]}}", "[1,2)", False),
    ("interval_infinite", f"{B}{{(-\\infty, 3]}}", r"(-\infty,3]", True),
    # units and degrees (math-verify drops units)
    ("unit_text_cm", f"{B}{{5\\text{{ cm}}}}", "5", True),
    ("unit_words", f"{B}{{12 \\text{{ apples}}}}", "12", True),
    ("unit_wrong_number", f"{B}{{6\\text{{ cm}}}}", "5", False),
    ("degrees_circ", f"{B}{{30^\\circ}}", "30", True),
    ("degrees_braced", f"{B}{{30^{{\\circ}}}}", r"30^\circ", True),
    # percentages (math-verify: 50\% = 1/2 and also accepts the bare 50)
    ("percent_vs_number", f"{B}{{50\\%}}", "50", True),
    ("percent_vs_fraction", f"{B}{{75\\%}}", r"\frac34", True),
    ("percent_wrong", f"{B}{{25\\%}}", "50", False),
    # several boxes: the last one wins
    ("boxes_last_wins_true", f"First {B}{{5}}, but actually {B}{{7}}.", "7", True),
    ("boxes_last_wins_false", f"First {B}{{5}}, but actually {B}{{7}}.", "5", False),
    # thinking
    ("think_closed_answer_after", f"{T}The answer is {B}{{7}}.", "7", True),
    ("think_box_only_inside", f"<think>\n{B}{{7}}\n</think>\nI am not sure.", "7", False),
    ("think_never_closed", f"<think>\nI think it is {B}{{7}} but let me check", "7", False),
    (
        "think_prefilled_open_tag",
        f"reasoning without the opening tag\n</think>\n\n{B}{{7}}",
        "7",
        True,
    ),
    ("think_last_close_counts", f"a</think>{B}{{5}} hmm <think>b</think>{B}{{7}}", "7", True),
    ("no_think_tags_whole_response", f"Working... {B}{{7}}", "7", True),
    # negatives
    ("neg_equal", f"{B}{{-3}}", "-3", True),
    ("neg_sign_missing", f"{B}{{3}}", "-3", False),
    ("neg_inside_frac", f"{B}{{\\frac{{-1}}{{2}}}}", r"-\frac12", True),
    ("neg_spaced", f"{B}{{- 5}}", "-5", True),
    # square roots
    ("sqrt_simplified", f"{B}{{2\\sqrt{{2}}}}", r"\sqrt{8}", True),
    ("sqrt_rationalised", f"{B}{{\\frac{{\\sqrt{{2}}}}{{2}}}}", r"\frac{1}{\sqrt2}", True),
    ("sqrt_wrong_radicand", f"{B}{{2\\sqrt{{3}}}}", r"\sqrt 8", False),
    ("sqrt_cube_root", f"{B}{{\\sqrt[3]{{8}}}}", "2", True),
    # pi
    ("pi_equal", f"{B}{{2\\pi}}", r"2\pi", True),
    ("pi_fraction_forms", f"{B}{{\\frac{{\\pi}}{{2}}}}", r"\pi/2", True),
    ("pi_decimal_too_coarse", f"{B}{{3.14}}", r"\pi", False),
    ("pi_wrong_multiple", f"{B}{{\\pi}}", r"3\pi", False),
    # other forms
    ("assignment_form", f"{B}{{x = 5}}", "5", True),
    ("choice_letter_text", f"{B}{{\\text{{(B)}}}}", "B", True),
    ("choice_letter_wrong", f"{B}{{\\text{{(C)}}}}", "B", False),
    ("polynomial_expanded", f"{B}{{(x+1)^2}}", "x^2+2x+1", True),
    ("polynomial_wrong", f"{B}{{(x-1)^2}}", "x^2+2x+1", False),
    ("gold_with_dollars", f"{B}{{0.75}}", r"$\frac{3}{4}$", True),
    ("empty_box", f"{B}{{}}", "7", False),
    ("no_box_at_all", "The answer is 7.", "7", False),
    ("unterminated_last_box", f"{B}{{7}} wait, {B}{{\\frac{{1}}{{", "7", False),
]


@pytest.fixture(scope="module")
def graded() -> pd.DataFrame:
    samples = pd.DataFrame(
        {
            "prompt_id": [c[0] for c in CASES],
            "response": [c[1] for c in CASES],
            "answer": [c[2] for c in CASES],
            "finish_reason": "stop",
        }
    )
    return grade_samples(samples, timeout_s=10.0).set_index("prompt_id")


def test_table_is_big_and_balanced():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)
    n_false = sum(not c[3] for c in CASES)
    assert n_false >= 15, "the table must hold plenty of cases that must be judged wrong"


@pytest.mark.parametrize(("case", "response", "gold", "expected"), CASES, ids=[c[0] for c in CASES])
def test_equivalence_table(graded, case, response, gold, expected):
    row = graded.loc[case]
    assert not row["timed_out"], f"{case} timed out"
    assert bool(row["correct"]) is expected, (
        f"{case}: extracted={row['extracted']!r} note={row['grade_note']!r}"
    )


def test_flags_on_thinking_and_truncation_cases(graded):
    never = graded.loc["think_never_closed"]
    assert (never["think_closed"], never["boxed"], never["extracted"]) == (False, False, None)
    prefilled = graded.loc["think_prefilled_open_tag"]
    assert (prefilled["think_closed"], prefilled["extracted"]) == (True, "7")
    inside = graded.loc["think_box_only_inside"]
    assert inside["think_closed"] and inside["extracted"] is None
    assert graded.loc["unterminated_last_box"]["extracted"] is None
    assert graded.loc["empty_box"]["boxed"] == False  # noqa: E712 (numpy bool)
    assert graded.loc["no_think_tags_whole_response"]["think_closed"] == False  # noqa: E712
