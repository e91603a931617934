"""Per-prompt metrics: SEs by hand, pass@k by brute force, rates averaged per prompt."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from ssdlib.stats.metrics import Z95, pass_at_k, pass_at_k_curve, summarize, t95


def _frame(
    correct_by_prompt: dict[str, list[int]], config_id: str = "cfg", **extra
) -> pd.DataFrame:
    rows = []
    for pid, values in correct_by_prompt.items():
        for j, v in enumerate(values):
            rows.append(
                {"config_id": config_id, "prompt_id": pid, "sample_idx": j, "correct": bool(v)}
            )
    df = pd.DataFrame(rows)
    for col, values in extra.items():
        df[col] = values
    return df


def test_per_prompt_se_matches_hand_computation_and_differs_from_pooled():
    # Two prompts always solved, two never: prompts differ, samples within a prompt agree.
    df = _frame({"p1": [1, 1, 1], "p2": [1, 1, 1], "p3": [0, 0, 0], "p4": [0, 0, 0]})
    row = summarize(df).iloc[0]
    # Prompt means 1,1,0,0: sd (ddof=1) = sqrt(1/3), SE = sqrt(1/3)/sqrt(4).
    hand = math.sqrt(1 / 3) / 2
    assert row["accuracy"] == pytest.approx(0.5)
    assert row["se"] == pytest.approx(hand)
    pooled = np.std(df["correct"].astype(float), ddof=1) / math.sqrt(len(df))
    assert pooled == pytest.approx(0.15075567)
    assert row["se"] > 1.9 * pooled  # pooling 12 samples as independent badly understates it
    assert row["ci_low"] == pytest.approx(0.5 - t95(4) * hand)
    assert row["ci_high"] == pytest.approx(0.5 + t95(4) * hand)
    assert t95(4) == pytest.approx(3.182446, abs=1e-6) and t95(10_000) == pytest.approx(
        Z95, abs=1e-3
    )


def test_small_breakdown_ci_covers_95_percent():
    """30 prompts at 10% accuracy (a small per-source cell): the normal interval covers ~0.8; t ~0.95."""
    rng = np.random.default_rng(0)
    hits = 0
    reps = 400
    for _ in range(reps):
        c = rng.binomial(1, 0.1, 30)
        row = summarize(_frame({f"p{i}": [int(v)] for i, v in enumerate(c)})).iloc[0]
        hits += row["ci_low"] <= 0.1 <= row["ci_high"]
    assert hits / reps >= 0.92


def test_unbalanced_prompts_are_weighted_equally():
    # p1 has 1 sample (correct, boxed), p2 has 3 (wrong, not boxed).
    df = _frame({"p1": [1], "p2": [0, 0, 0]}, boxed=[True, False, False, False])
    row = summarize(df).iloc[0]
    assert row["accuracy"] == pytest.approx(0.5)  # pooled would say 0.25
    assert row["boxed_rate"] == pytest.approx(0.5)
    assert row["samples_per_prompt"] == pytest.approx(2.0)
    assert (row["n_prompts"], row["n_samples"]) == (2, 4)


def test_summary_columns_rates_tokens_and_groups():
    a = _frame({"p1": [1, 0], "p2": [0, 0], "p3": [1, 1]}, config_id="A")
    b = _frame({"p1": [1, 1], "p2": [1, 0], "p3": [0, 0]}, config_id="B")
    df = pd.concat([a, b], ignore_index=True)
    df["think_closed"] = [True, False, True, True, True, True, True, True, True, True, False, False]
    df["length_stop"] = ~df["think_closed"]
    df["boxed"] = df["think_closed"]
    df["timed_out"] = [False] * 11 + [True]
    df["n_tokens"] = [100, 300, 200, 200, 50, 50, 10, 10, 10, 10, 1000, 3000]
    out = summarize(df, k_values=(1, 2)).set_index("config_id")
    assert out.loc["A", "accuracy"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert out.loc["A", "think_close_rate"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert out.loc["B", "length_stop_rate"] == pytest.approx((0 + 0 + 1) / 3)
    assert out.loc["A", "mean_tokens"] == pytest.approx((200 + 200 + 50) / 3)
    assert out.loc["B", "p95_tokens"] == pytest.approx(
        np.quantile([10, 10, 10, 10, 1000, 3000], 0.95)
    )
    assert (out.loc["A", "timed_out"], out.loc["B", "timed_out"]) == (0, 1)
    # pass@1 is the accuracy; pass@2 with 2 samples is "any correct" per prompt.
    assert out.loc["A", "pass@1"] == pytest.approx(out.loc["A", "accuracy"])
    assert out.loc["A", "pass@2"] == pytest.approx(2 / 3)
    assert out.loc["B", "pass@2_se"] == pytest.approx(np.std([1, 1, 0], ddof=1) / math.sqrt(3))
    # no grouping: one overall row
    overall = summarize(df, by=[])
    assert len(overall) == 1 and overall["n_prompts"].iloc[0] == 3
    assert overall["accuracy"].iloc[0] == pytest.approx(np.mean([0.5, 0, 1, 1, 0.5, 0]))


@pytest.mark.parametrize("n", range(1, 8))
def test_pass_at_k_matches_brute_force(n):
    for c in range(n + 1):
        samples = [1] * c + [0] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(range(n), k))
            brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12), (n, c, k)


def test_pass_at_k_is_stable_for_large_n_and_vectorised():
    exact = 1 - math.comb(100, 50) / math.comb(200, 50)  # Python big ints: exact
    assert pass_at_k(200, 100, 50) == pytest.approx(exact, rel=1e-12)
    assert pass_at_k(10_000, 1, 1) == pytest.approx(1e-4)
    vec = pass_at_k(np.array([10, 10, 10]), np.array([0, 5, 10]), 3)
    assert vec.shape == (3,)
    assert vec[0] == 0.0 and vec[2] == 1.0
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 2, 6)


def test_pass_at_k_needs_enough_samples_for_every_prompt():
    df = _frame({"p1": [1, 0, 0], "p2": [0]})
    row = summarize(df, k_values=(1, 2)).iloc[0]
    assert not math.isnan(row["pass@1"])
    assert math.isnan(row["pass@2"])  # p2 cannot give pass@2: not silently dropped


def test_pass_at_k_curve_is_tidy_and_monotone():
    rng = np.random.default_rng(0)
    data = {f"p{i}": list(rng.integers(0, 2, size=5)) for i in range(20)}
    df = pd.concat(
        [_frame(data, "A"), _frame({k: [1 - x for x in v] for k, v in data.items()}, "B")]
    )
    curve = pass_at_k_curve(df, by=["config_id"])
    assert list(curve.columns) == ["config_id", "k", "pass_at_k", "se", "n_prompts"]
    assert len(curve) == 10 and curve["k"].max() == 5
    for _, g in curve.groupby("config_id"):
        assert np.all(np.diff(g["pass_at_k"].to_numpy()) >= -1e-12)
    s = summarize(df, k_values=(3,)).set_index("config_id")
    c3 = curve[curve["k"] == 3].set_index("config_id")
    assert c3.loc["A", "pass_at_k"] == pytest.approx(s.loc["A", "pass@3"])
    assert c3.loc["A", "se"] == pytest.approx(s.loc["A", "pass@3_se"])


def test_bad_inputs_raise():
    df = _frame({"p1": [1, 0]})
    with pytest.raises(ValueError, match="duplicated"):
        summarize(pd.concat([df, df]))
    ungraded = df.assign(correct=[True, None])
    with pytest.raises(ValueError, match="missing"):
        summarize(ungraded)
    with pytest.raises(ValueError, match="config_id"):
        summarize(df.drop(columns="config_id"))


def test_single_prompt_has_nan_se():
    row = summarize(_frame({"p1": [1, 0, 1]})).iloc[0]
    assert row["accuracy"] == pytest.approx(2 / 3)
    assert math.isnan(row["se"]) and math.isnan(row["ci_low"])
