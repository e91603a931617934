"""Contamination figures: they build, state their finding, and pick the right example pairs."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ssdlib import figures_contamination as fc


@pytest.fixture
def best():
    return pd.DataFrame({
        "val_id": ["v0", "v1", "v2", "v3"],
        "train_id": ["t0", "t1", "t2", None],
        "jaccard": [1.0, 0.45, 0.65, 0.0],
        "answers_agree": pd.array([True, True, False, None], dtype="boolean"),
        "val_problem": ["Find $x$.", "p1", "p2", "p3"],
        "train_problem": ["Find x.", "q1", "q2", None],
        "val_answer": ["1", "2", "3", "4"],
        "train_answer": ["1", "2", "5", None],
        "flagged": [True, True, False, False],
    })


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
    with pytest.raises(ValueError):
        fc.plot_best_match_hist(best.iloc[:0], threshold_same_answer=0.4, threshold_diff_answer=0.7)
    assert np.isfinite(best["jaccard"]).all()
