"""The gradability rules applied to NuminaMath: proofs, multiple choice, multiple answers."""

import pytest

from ssdlib.data.filters import (
    box_variants,
    canonical,
    is_multiple_answers,
    is_multiple_choice,
    is_proof,
    is_prose_answer,
    is_restated_claim,
    lists_several_answers,
    strip_wrappers,
)

# Asymptote code as MATH writes it (hand-written): dot(A); dot(B); is not an option list.
ASY_PROBLEM = (
    "Square $ABCD$ is drawn below.\n[asy]\npair A=(0,0), B=(1,0), C=(1,1), D=(0,1);\n"
    'draw(A--B--C--D--cycle); dot(A); dot(B);\nlabel("$A$", A, SW);\n[/asy]\nFind its area.'
)


@pytest.mark.parametrize(
    "problem, answer, expected",
    [
        ("Prove that there are infinitely many primes.", "5", True),
        ("Show that $n^2 \\ge 0$.", None, True),
        ("Demonstrate the inequality holds.", None, True),
        ("Find $x$.", "\\text{Proved}", True),
        ("Find $x$.", "\\blacksquare", True),
        ("Is it possible?", "\\text{No}", True),
        ("Find $x$.", "", True),
        ("Find $x$.", "7", False),
        ("Find the waterproof area.", "7", False),  # 'proof' inside a word is not a proof request
        ("Find $x$.", None, False),
    ],
)
def test_is_proof(problem, answer, expected):
    assert is_proof(problem, answer) is expected


@pytest.mark.parametrize(
    "problem, answer, expected",
    [
        ("What is 1+1?", "B", True),
        ("What is 1+1?", "(C)", True),
        ("What is 1+1?", "\\text{(D)}", True),
        ("What is 1+1?", "\\textbf{(B)}\\ 2", True),
        ("What is 1+1?", "E.", True),
        ("Pick one: $\\textbf{(A)}\\ 1 \\qquad \\textbf{(B)}\\ 2$", "2", True),
        ("Which is prime?\nA: $4$\nB: $6$\nC: $7$", "7", True),
        ("Which?  A. 4  B. 6  C. 7  D. 9", "7", True),
        ("Let $A = 5$. Find $B$.", "A = 5", False),
        ("Find the area of triangle ABC.", "12", False),
        ("Points A, B, C are collinear. Find AB.", "3", False),
        ("Find $x$.", "e", False),
        (ASY_PROBLEM, "1", False),  # Asymptote dot(A); dot(B); is a diagram
        (
            "Draw (A) then (B).\n[asy]\ndot(A);\n[/asy] Pick: (A) 1 (B) 2",
            "2",
            True,
        ),  # options outside the code
    ],
)
def test_is_multiple_choice(problem, answer, expected):
    assert is_multiple_choice(problem, answer) is expected


@pytest.mark.parametrize(
    "solution, answer, expected",
    [
        ("$\\boxed{3, 23}$", "3, 23", True),
        ("$\\boxed{x=1; y=2}$", "x=1; y=2", True),
        ("$\\boxed{2 \\text{ or } 3}$", "2 \\text{ or } 3", True),
        ("$\\boxed{2 \\quad 3}$", "2 \\quad 3", True),
        ("$x=\\boxed{2}$, $y=\\boxed{1}$", "1", True),  # two distinct boxes
        ("$\\boxed{55}$ so again $\\boxed{ 55 }$", "55", False),  # same value boxed twice
        ("$\\boxed{(1, 2)}$", "(1, 2)", False),  # a point is one answer
        ("$\\boxed{[0, 1)}$", "[0, 1)", False),  # an interval is one answer
        ("$\\boxed{\\{1, 2\\}}$", "\\{1, 2\\}", False),  # a set is one answer
        ("$\\boxed{10,000}$", "10,000", False),  # thousands separator
        ("$\\boxed{x^{1,2}}$", "x^{1,2}", False),  # comma inside braces
        # MATH writes thousands with a negative thin space: one number, not a list
        ("$\\boxed{10,\\!080}$", "10,\\!080", False),
        ("$\\boxed{11,\\! 111,\\! 100}$", "11,\\! 111,\\! 100", False),
        ("$\\boxed{\\$32,\\!348}$", "\\$32,\\!348", False),
        ("$\\boxed{1,\\!2}$", "1,\\!2", True),  # not a thousands group
        ("$\\boxed{2, 345}$", "2, 345", True),  # a comma and a space: two answers, not 2345
        # the same value boxed in two forms (math-verify decides)
        ("$\\boxed{15\\frac{39}{40}}$, i.e. $\\boxed{\\frac{639}{40}}$", "\\frac{639}{40}", False),
        ("$\\boxed{10,\\!080}$ ways, or $\\boxed{10080}$", "10080", False),
        ("$\\boxed{\\dfrac{1}{2}}$ and $\\boxed{0.5}$", "0.5", False),
        ("$\\boxed{15\\frac{39}{40}}$, i.e. $\\boxed{\\frac{638}{40}}$", "\\frac{638}{40}", True),
        # two-part answers
        (
            "$\\boxed{4 \\text{ (minimum)}, 9 \\text{ (maximum)}}$",
            "4 \\text{ (minimum)}, 9 \\text{ (maximum)}",
            True,
        ),
    ],
)
def test_is_multiple_answers(solution, answer, expected):
    assert is_multiple_answers(solution, answer) is expected


def test_strip_wrappers_nested():
    assert strip_wrappers("\\textbf{\\text{(A)}}  $5$") == "(A) 5"


def test_boxes_inside_asy_are_not_answers():
    sol = '[asy]\nlabel("$\\boxed{A}$", (0,0));\n[/asy] The answer is $\\boxed{7}$.'
    assert box_variants(sol, "7") == []
    assert not is_multiple_answers(sol, "7")


def test_canonical_forms():
    assert canonical("10,\\!080") == canonical("10080") == "10080"
    assert canonical("\\dfrac{1}{2}.") == "\\frac{1}{2}"
    assert canonical("\\left( 1, 2 \\right)") == "(1,2)"


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("$69$,$84$", True),  # OlympiadBench's joined multi-answer string
        ("4122 \\text{ (minimum)}, 6049 \\text{ (maximum)}", True),
        ("(1, 2)", False),
        ("10,\\!080", False),
        ("$k=1$", False),
    ],
)
def test_lists_several_answers(answer, expected):
    assert lists_several_answers(answer) is expected


@pytest.mark.parametrize(
    "problem, answer, expected",
    [
        ("Let $P$ be on side $BC$. Prove that $AE + AP = PD$.", "AE + AP = PD", True),
        ("Show that $f(x) \\le 2$ for all $x$.", "f(x) \\le 2", True),
        (
            "In the figure $XY + YZ = 10$; find $XZ$ given that XY+YZ=10.",
            "XY+YZ=10",
            True,
        ),  # copies the statement
        ("Determine the integer $k$ with $2^k = 2$.", "k=1", False),
        ("Prove your answer: how many subsets are there?", "8", False),
    ],
)
def test_is_restated_claim(problem, answer, expected):
    assert is_restated_claim(problem, answer) is expected


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("n \\text{ works if and only if } n \\text{ is odd}", True),
        ("\\text{all primes greater than three}", True),
        ("12 \\text{ cm}^2", False),
        ("\\sqrt{2} + \\frac{\\pi}{4}", False),
        ("4 \\text{ (minimum)}", False),
    ],
)
def test_is_prose_answer(answer, expected):
    assert is_prose_answer(answer) is expected
