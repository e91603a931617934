"""Math-aware canonical form and numeric signature (issue #13; ssdlib.contamination.canon)."""

import pytest

from ssdlib.contamination.answers import numeric_value, quick_agree
from ssdlib.contamination.canon import canonical, exact_key, math_tokens, signature
from ssdlib.contamination.normalize import normalize_text


@pytest.mark.parametrize(
    "a, b",
    [
        (
            r"If $x+y=10$ and $xy=21$, find $x^{2}+y^{2}$.",
            "If x + y = 10 and x y = 21, find x^2 + y^2.",
        ),
        (r"Compute $\dfrac{63}{256}+1$.", "Compute 63/256 + 1."),
        (r"$\frac12$ of $1{,}000$", r"$\tfrac{1}{2}$ of $1,\!000$"),
        (r"$2 \cdot 3$", r"$2\times 3$"),
        (r"$\left(a+b\right)^{3}$", "$(a + b)^3$"),
        (r"Problem 12. Find $n$. Express your answer as a common fraction.", "Find $n$."),
        (r"(5 points) Find the value of $k$.", "Find the value of $k$."),
        ("Question. Compute $7+5$.", "Compute $7 + 5$."),
        (r"\(x \leq 3\)", r"$x\le 3$"),
    ],
)
def test_latex_spellings_share_one_exact_key(a, b):
    assert exact_key(a) == exact_key(b), (canonical(a), canonical(b))


@pytest.mark.parametrize(
    "a, b",
    [
        (r"$2 \cdot 3$", "$23$"),  # the multiplication token is kept
        (r"$x^2$", "$x 2$"),  # ^ is kept (pre-#13 tokens merged these)
        ("divided by $7$", "divided by $8$"),
        ("$x - 2$", "$x + 2$"),
    ],
)
def test_different_statements_keep_different_keys(a, b):
    assert exact_key(a) != exact_key(b)


def test_old_normaliser_could_not_see_these_spellings():
    # The cases the issue lists: the pre-#13 normaliser keeps them apart, the new key does not.
    a, b = r"$xy = 21$ and $\frac{63}{256}$", "x y = 21 and 63/256"
    assert normalize_text(a) != normalize_text(b)
    assert exact_key(a) == exact_key(b)


def test_math_letters_split_but_words_and_point_names_stay():
    assert math_tokens(r"Let $xy=2$ in $\triangle ABC$ with $\text{area}$") == [
        "let",
        "x",
        "y",
        "=",
        "2",
        "in",
        "triangle",
        "abc",
        "with",
        "area",
    ]


def test_signature_is_the_set_of_numbers():
    assert signature(
        r"Problem 3. In $\triangle ABC$, $AB=13$, $BC = 14$, $CA=15.0$; find $13+x$."
    ) == {"13", "14", "15"}
    assert signature("How many positive divisors does $1{,}000$ have?") == {"1000"}
    assert signature("Find all functions f.") == frozenset()
    assert signature(None) == frozenset()


def test_quick_answer_verdicts():
    assert quick_agree(
        [
            ("0.99", r"\frac{99}{100}"),
            ("63/256", r"\dfrac{63}{256}"),
            (r"\boxed{12}", "$12$"),
            ("3", "4"),
            (r"\sqrt{2}", r"\sqrt2"),
            ("", "3"),
        ]
    ) == [True, True, True, False, None, None]
    assert numeric_value("-0.5") == numeric_value(r"-\frac{1}{2}")
    assert numeric_value("x+1") is None


def test_a_script_of_several_tokens_keeps_its_grouping():
    # 2^{x+1} = 32 and 2^{x} + 1 = 32 are different equations (they were one exact key before).
    assert exact_key("Solve for $x$: $2^{x+1} = 32$.") != exact_key(
        "Solve for $x$: $2^{x} + 1 = 32$."
    )
    assert (
        exact_key("$2^{x+1} = 32$") == exact_key("2^(x+1) = 32") == exact_key("$2^{ x + 1 } = 32$")
    )
    assert exact_key("$a_{n+1}$") != exact_key("$a_n + 1$")
