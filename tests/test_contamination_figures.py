"""Contamination figures: they build, state their finding, and pick the right example pairs."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from ssdlib.contamination import figures as fc


@pytest.fixture
def best():
    return pd.DataFrame(
        {
            "val_id": ["v0", "v1", "v2", "v3"],
            "train_id": ["t0", "t1", "t2", None],
            "jaccard": [1.0, 0.45, 0.65, 0.0],
            "answers_agree": pd.array([True, True, False, None], dtype="boolean"),
            "val_problem": ["Find $x$.", "p1", "p2", "p3"],
            "train_problem": ["Find x.", "q1", "q2", None],
            "val_answer": ["1", "2", "3", "4"],
            "train_answer": ["1", "2", "5", None],
            "flagged": [True, True, False, False],
        }
    )


def test_histogram_title_states_the_flagged_share(best):
    fig = fc.plot_best_match_hist(best, threshold_same_answer=0.4, threshold_diff_answer=0.7)
    title = fig.axes[0].get_title()
    assert "2 of 4 val problems (50.0%)" in title
    xs = sorted(line.get_xdata()[0] for line in fig.axes[0].get_lines())
    assert xs == [0.4, 0.7]
    plt.close(fig)


def test_boundary_pairs_are_weakest_flagged_and_closest_unflagged(best):
    pairs = fc.closest_pairs(best)
    assert pairs["flagged"]["val_id"] == "v1"  # flagged with the lowest J
    assert pairs["unflagged"]["val_id"] == "v2"  # unflagged with the highest J (v3 has no match)
    table = fc.closest_pairs_table(best)
    assert list(table.columns) == ["weakest flagged", "closest unflagged"]
    assert table.loc["jaccard"].tolist() == [0.45, 0.65]
    fig = fc.plot_closest_pairs(best)
    assert "J=0.450" in fig._suptitle.get_text() and "J=0.650" in fig._suptitle.get_text()
    plt.close(fig)


def test_figures_handle_a_missing_side(best):
    none_flagged = best.assign(flagged=False)
    assert fc.closest_pairs(none_flagged)["flagged"] is None
    fig = fc.plot_closest_pairs(none_flagged)
    assert "No val problem is flagged" in fig._suptitle.get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match="best is empty"):
        fc.plot_best_match_hist(best.iloc[:0], threshold_same_answer=0.4, threshold_diff_answer=0.7)


# ---- issue #13 figures: per-category recall and the pair gallery ----

from ssdlib.contamination.figures import gallery_pairs, plot_category_recall, plot_pair_gallery  # noqa: E402


def _labelled_like():
    return pd.DataFrame(
        {
            "category": ["reworded", "reworded", "renumbered", "renumbered"],
            "label": [True, True, False, False],
            "flag": [True, False, False, True],
            "path": ["signature_same_answer", "", "", "fuzzy_diff_answer"],
            "char": [0.12, 0.30, 0.97, 0.99],
            "j5": [0.0, 0.05, 0.6, 0.8],
            "answers_agree": [True, True, False, False],
            "problem_a": ["How many divisors does $12$ have?", "a", "Find $3+4$.", "Find $3+5$."],
            "problem_b": ["Count the integers dividing 12.", "b", "Find $3+6$.", "Find $3+7$."],
            "answer_a": ["6", "1", "7", "8"],
            "answer_b": ["6", "1", "9", "10"],
        }
    )


def test_gallery_picks_hardest_caught_rejected_and_missed():
    g = gallery_pairs(_labelled_like(), k=1)
    assert g["caught"]["char"].tolist() == [0.12]  # flagged duplicate with least text in common
    assert g["rejected"]["char"].tolist() == [0.97]  # unflagged non-duplicate with the most
    assert g["missed"]["char"].tolist() == [0.30]
    fig = plot_pair_gallery(_labelled_like(), k=1)
    assert "1 labelled duplicates missed" in fig._suptitle.get_text()


def test_category_recall_title_states_pooled_numbers():
    table = pd.DataFrame(
        {
            "category": [
                "reworded",
                "renumbered",
                "pooled precision",
                "pooled recall",
                "pooled f1",
            ],
            "label": ["duplicate", "different", "", "", ""],
            "pairs": [2, 2, 4, 4, 4],
            "before": [0.0, 0.5, 0.0, 0.0, 0.0],
            "after": [0.5, 0.5, 0.5, 0.5, 0.5],
        }
    )
    fig = plot_category_recall(table)
    assert fig.axes[0].get_title().startswith("Recall 0.00 -> 0.50, precision 0.00 -> 0.50")
