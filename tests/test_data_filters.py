"""The gradability rules applied to NuminaMath: proofs, multiple choice, multiple answers."""

import pytest

from ssdlib.data.filters import is_multiple_answers, is_multiple_choice, is_proof, strip_wrappers


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
    ],
)
def test_is_multiple_answers(solution, answer, expected):
    assert is_multiple_answers(solution, answer) is expected


def test_strip_wrappers_nested():
    assert strip_wrappers("\\textbf{\\text{(A)}}  $5$") == "(A) 5"
