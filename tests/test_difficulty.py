"""Difficulty on one scale (base pass rate in 03) and pass@k by difficulty: hand-written rows in
the shapes of 03_graded / 06_graded."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ssdlib.lockfork import difficulty as dif


def _graded(
    model, config, outcomes: dict[str, list[int]], source="omni_math", difficulty=5.0, model_id=None
):
    rows = []
    for pid, cs in outcomes.items():
        for i, c in enumerate(cs):
            rows.append(
                {
                    "prompt_id": pid,
                    "sample_idx": i,
                    "config_id": config,
                    "model_id": model_id or model,
                    "model": model,
                    "correct": bool(c),
                    "source": source,
                    "difficulty": difficulty,
                    "boxed": True,
                    "think_closed": True,
                    "length_stop": False,
                    "n_tokens": 10,
                }
            )
    return pd.DataFrame(rows)


def test_pass_rates_pool_decodes_exclude_the_compared_one_and_bin_on_one_scale():
    g03 = pd.concat(
        [
            _graded(
                "base", "t0.6", {"a": [0, 0], "b": [1, 0], "c": [1, 1], "d": [0, 1]}, model_id="m"
            ),
            _graded(
                "base", "t1.0", {"a": [0, 0], "b": [0, 0], "c": [1, 1], "d": [1, 1]}, model_id="m"
            ),
            _graded(
                "base",
                "baseline",
                {"a": [1, 1], "b": [1, 1], "c": [0, 0], "d": [0, 0]},
                model_id="m",
            ),
        ]
    )
    r = dif.base_pass_rates(g03, "m", exclude_config_ids=["baseline"]).set_index("prompt_id")
    assert (
        r.loc["a", "pass_rate"] == 0
        and r.loc["b", "pass_rate"] == 0.25
        and r.loc["c", "pass_rate"] == 1
    )
    assert (
        r.loc["d", "pass_rate"] == 0.75 and (r["n_samples"] == 4).all()
    )  # the baseline's rows are out
    bins = dif.pass_rate_bins(r.reset_index())
    assert bins["a"] == "0 (never)" and bins["b"] == "0-25%" and bins["d"] == "50-75%"
    assert bins["c"] == "75-100%" and list(bins.cat.categories)[0] == "0 (never)"
    with pytest.raises(ValueError, match="no graded samples"):
        dif.base_pass_rates(g03, "other")


def test_pass_at_k_by_bin_shows_diversity_on_hard_prompts():
    # Two hard prompts ("never solved" by base in 03) and two easy ones. At eval: "greedyish" solves
    # prompt h1 in every sample and h2 never; "diverse" solves each hard prompt once in 4 samples.
    rates = pd.DataFrame({"prompt_id": ["h1", "h2", "e1", "e2"], "pass_rate": [0.0, 0.0, 1.0, 1.0]})
    bins = dif.pass_rate_bins(rates)
    s = pd.concat(
        [
            _graded(
                "greedyish",
                "eval",
                {"h1": [1, 1, 1, 1], "h2": [0, 0, 0, 0], "e1": [1] * 4, "e2": [1] * 4},
            ),
            _graded(
                "diverse",
                "eval",
                {"h1": [1, 0, 0, 0], "h2": [0, 0, 0, 1], "e1": [1] * 4, "e2": [1] * 4},
            ),
            _graded(
                "base", "eval", {"h1": [0] * 4, "h2": [0, 0, 1, 0], "e1": [1] * 4, "e2": [1] * 4}
            ),
        ]
    )
    c = dif.pass_at_k_by_bin(s, bins, k_max=4).set_index(["model", "subset", "k"])["pass_at_k"]
    hard = "hardest: base pass rate 0 (never)"
    assert c[("greedyish", hard, 1)] == pytest.approx(0.5) and c[
        ("diverse", hard, 1)
    ] == pytest.approx(0.25)
    assert c[("diverse", hard, 4)] == pytest.approx(1.0) and c[
        ("greedyish", hard, 4)
    ] == pytest.approx(0.5)
    assert c[("diverse", "all prompts", 4)] == pytest.approx(1.0)
    fig = __import__("ssdlib.verdict.figures", fromlist=["x"]).plot_pass_at_k_by_difficulty(
        dif.pass_at_k_by_bin(s, bins, k_max=4), "val300 (4 prompts)"
    )
    assert fig._suptitle.get_text().startswith(
        "val300 (4 prompts): pass@4 on hardest prompts is highest for diverse"
    )
    plt.close(fig)


def test_accuracy_by_bin_and_omni_native_only_within_omni():
    rates = pd.DataFrame({"prompt_id": ["p1", "p2", "p3"], "pass_rate": [0.0, 0.5, 1.0]})
    bins = dif.pass_rate_bins(rates)
    s = pd.concat(
        [
            _graded(
                "base", "eval", {"p1": [0, 0], "p2": [1, 0]}, source="omni_math", difficulty=7.0
            ),
            _graded("base", "eval", {"p3": [1, 1], "p9": [1, 1]}, source="aime", difficulty=np.nan),
            _graded(
                "ckpt-6", "eval", {"p1": [1, 0], "p2": [1, 1]}, source="omni_math", difficulty=7.0
            ),
            _graded(
                "ckpt-6", "eval", {"p3": [1, 1], "p9": [0, 0]}, source="aime", difficulty=np.nan
            ),
        ]
    )
    t = dif.accuracy_by_bin(s, bins, ["base", "ckpt-6"])
    assert list(t[t.model == "base"][dif.BIN_COLUMN]) == ["0 (never)", "25-50%", "75-100%"]
    assert t.set_index(["model", dif.BIN_COLUMN]).loc[("ckpt-6", "0 (never)"), "accuracy"] == 0.5
    assert dif.with_bins(s, bins).attrs["n_unbinned_prompts"] == 1  # p9: never sampled in 03
    omni = dif.native_difficulty_within(s, "omni_math", ["base", "ckpt-6"])
    assert set(omni["difficulty"]) == {7.0} and omni["n_prompts"].tolist() == [2, 2]
    assert dif.native_difficulty_within(s, "beyond_aime", ["base"]).empty
    from ssdlib.verdict.figures import plot_accuracy_by_difficulty

    fig = plot_accuracy_by_difficulty(t, "confirmation", omni=omni)
    assert "on the hardest bin 0 (never), ckpt-6 vs base +50.0 p.p." in fig._suptitle.get_text()
    assert len(fig.axes) == 2
    plt.close(fig)
