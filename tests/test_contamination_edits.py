"""The content-edit feature (edits.py): how much of two statements is copied when their
difference touches content, on hand-written problem statements."""

from ssdlib.contamination.edits import content_edit

SETUP = "A rectangle has length $12$ and width $5$. "


def test_identical_or_noise_only_differences_score_zero():
    q = SETUP + "Find the length of its diagonal."
    assert content_edit(q, q) == 0.0
    # Question verb swapped, article dropped: phrasing, not content.
    assert content_edit(q, SETUP + "Compute length of its diagonal.") == 0.0
    # Spacing only outside math ("xy" vs "x y" once the dollars are gone).
    assert content_edit("If $x+y=7$ and $xy=12$, find $x^2+y^2$.", "If x + y = 7 and xy = 12, find x^2 + y^2.") == 0.0


def test_a_changed_question_word_on_a_copied_setup_scores_high():
    a, b = SETUP + "Find the length of its diagonal.", SETUP + "Find its area."
    assert content_edit(a, b) > 0.7
    # Order matters: f(g(3)) and g(f(3)) have the same bag of tokens.
    assert content_edit("Compute $f(g(3))$.", "Compute $g(f(3))$.") > 0.5


def test_a_full_rewording_scores_lower_than_a_copied_setup():
    a = SETUP + "Find the length of its diagonal."
    reworded = "How far apart are opposite corners of a $12$ by $5$ rectangle?"
    assert 0.0 < content_edit(a, reworded) < content_edit(a, SETUP + "Find its area.")


def test_missing_text_scores_zero():
    assert content_edit("", SETUP) == 0.0
