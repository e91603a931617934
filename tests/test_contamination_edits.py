"""The content-edit feature (edits.py): how much of two statements is copied when their
difference touches content, and how spread that difference is, on hand-written statements."""

from ssdlib.contamination.edits import content_edit

SETUP = "A rectangle has length $12$ and width $5$. "


def test_identical_or_noise_only_differences_score_zero():
    q = SETUP + "Find the length of its diagonal."
    assert content_edit(q, q) == (0.0, 0)
    # Question verb swapped, article dropped: phrasing, not content.
    assert content_edit(q, SETUP + "Compute length of its diagonal.") == (0.0, 0)
    # Spacing only outside math ("xy" vs "x y" once the dollars are gone).
    assert content_edit(
        "If $x+y=7$ and $xy=12$, find $x^2+y^2$.", "If x + y = 7 and xy = 12, find x^2 + y^2."
    ) == (0.0, 0)


def test_a_changed_question_word_on_a_copied_setup_is_one_local_edit():
    share, span = content_edit(SETUP + "Find the length of its diagonal.", SETUP + "Find its area.")
    assert share > 0.7 and 0 < span <= 6
    # Order matters: f(g(3)) and g(f(3)) have the same bag of tokens.
    share, span = content_edit("Compute $f(g(3))$.", "Compute $g(f(3))$.")
    assert share > 0.5 and span <= 3


def test_a_full_rewording_scores_lower_than_a_copied_setup():
    a = SETUP + "Find the length of its diagonal."
    reworded = "How far apart are opposite corners of a $12$ by $5$ rectangle?"
    assert 0.0 < content_edit(a, reworded)[0] < content_edit(a, SETUP + "Find its area.")[0]


def test_edits_scattered_over_a_copy_have_a_long_span():
    a = (
        "A bag holds $4$ red and $6$ blue marbles. Two marbles are drawn at random without "
        "replacement. What is the probability that both marbles are red?"
    )
    b = (
        "A sack holds $4$ red and $6$ blue marbles. Two marbles are drawn at random without "
        "replacement. What is the probability that both marbles are crimson?"
    )
    share, span = content_edit(a, b)
    assert share > 0.85 and span > 20


def test_missing_text_scores_zero():
    assert content_edit("", SETUP) == (0.0, 0)
