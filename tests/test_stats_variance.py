"""Variance components: known components are recovered; statsmodels agrees."""

import numpy as np
import pandas as pd
import pytest

from ssdlib.stats import (
    beta_prompt_means,
    simulate_samples,
    variance_components,
    variance_components_mixedlm,
)


def _beta_bernoulli(n, K, mean, var_between, seed):
    rng = np.random.default_rng(seed)
    return simulate_samples(beta_prompt_means(n, mean, var_between, rng), K, rng)


def test_hand_computed_example():
    # A: 1,1,0,0 (mean .5, var 1/3); B: 1,1,1,1 (1, 0); C: 0,0,0,1 (.25, .25)
    samples = pd.DataFrame(
        {
            "prompt_id": np.repeat(["A", "B", "C"], 4),
            "sample_idx": np.tile(range(4), 3),
            "correct": [1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1],
        }
    ).astype({"correct": bool})
    row = variance_components(samples).iloc[0]
    var_within = (1 / 3 + 0 + 0.25) / 3
    var_means = np.var([0.5, 1.0, 0.25], ddof=1)
    assert row["var_within"] == pytest.approx(var_within)
    assert row["var_between"] == pytest.approx(var_means - var_within / 4)
    assert row["var_total"] == pytest.approx(var_means - var_within / 4 + var_within)
    assert row["mean"] == pytest.approx(np.mean([0.5, 1.0, 0.25]))
    assert row["se"] == pytest.approx(np.sqrt(var_means / 3))
    assert (row["n_prompts"], row["n_samples"], row["K"]) == (3, 12, 4.0)


def test_recovers_known_components_balanced():
    mean, vb = 0.4, 0.05
    vw = mean * (1 - mean) - vb  # E[p(1-p)] for a Beta with these moments
    row = variance_components(_beta_bernoulli(3000, 4, mean, vb, seed=1)).iloc[0]
    assert row["var_between"] == pytest.approx(vb, abs=0.01)
    assert row["var_within"] == pytest.approx(vw, abs=0.01)
    assert row["between_share"] == pytest.approx(vb / (vb + vw), abs=0.04)
    assert row["mean"] == pytest.approx(mean, abs=0.02)


def test_recovers_components_with_unbalanced_k():
    # Half the prompts have 1 sample, half 16: subtracting var_within/mean(K) instead of
    # var_within*mean(1/K) would under-correct by ~0.08 and fail this test.
    mean, vb = 0.5, 0.06
    vw = mean * (1 - mean) - vb
    rng = np.random.default_rng(2)
    k = np.where(np.arange(3000) % 2 == 0, 1, 16)
    samples = simulate_samples(beta_prompt_means(3000, mean, vb, rng), k, rng)
    row = variance_components(samples).iloc[0]
    assert row["n_samples"] == k.sum()
    assert row["K"] == pytest.approx(k.mean())
    assert row["var_between"] == pytest.approx(vb, abs=0.012)
    assert row["var_within"] == pytest.approx(vw, abs=0.01)


def test_single_sample_prompts_skip_within_but_count_in_mean():
    samples = pd.DataFrame(
        {"prompt_id": ["a", "a", "b"], "sample_idx": [0, 1, 0], "correct": [True, False, True]}
    )
    row = variance_components(samples).iloc[0]
    assert row["var_within"] == pytest.approx(0.5)  # only prompt a has a variance
    assert row["mean"] == pytest.approx(0.75)
    assert row["n_prompts"] == 2


def test_all_single_samples_cannot_separate_components():
    samples = pd.DataFrame({"prompt_id": list("abcd"), "correct": [True, False, True, True]})
    row = variance_components(samples).iloc[0]
    assert (
        np.isnan(row["var_between"])
        and np.isnan(row["var_within"])
        and np.isnan(row["between_share"])
    )
    assert row["var_total"] == pytest.approx(np.var([1, 0, 1, 1], ddof=1))


def test_negative_between_estimate_is_clipped_at_zero():
    # Every prompt has mean .5: the prompt means do not vary at all.
    samples = pd.DataFrame({"prompt_id": np.repeat(list("abcde"), 2), "correct": [True, False] * 5})
    row = variance_components(samples).iloc[0]
    assert row["var_between_raw"] == pytest.approx(-0.25)
    assert row["var_between"] == 0.0
    assert row["between_share"] == 0.0


def test_by_group_equals_each_subset():
    rng = np.random.default_rng(3)
    p = beta_prompt_means(300, 0.5, 0.05, rng)
    samples = simulate_samples(p, 3, rng, source=rng.choice(["x", "y"], 300))
    table = variance_components(samples, by="source").set_index("source")
    for src in ["x", "y"]:
        alone = variance_components(samples[samples["source"] == src]).iloc[0]
        pd.testing.assert_series_equal(table.loc[src], alone, check_names=False)


def test_matches_statsmodels_one_way_anova_when_balanced():
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    samples = _beta_bernoulli(60, 5, 0.5, 0.05, seed=4)
    samples["y"] = samples["correct"].astype(float)
    aov = anova_lm(ols("y ~ C(prompt_id)", data=samples).fit())
    msb, msw = aov["mean_sq"].iloc[0], aov["mean_sq"].iloc[1]
    row = variance_components(samples).iloc[0]
    assert row["var_within"] == pytest.approx(msw)
    assert row["var_between_raw"] == pytest.approx((msb - msw) / 5)


def test_mixedlm_agrees_on_gaussian_scores_with_known_components():
    rng = np.random.default_rng(5)
    n, K, vb, vw = 300, 5, 0.04, 0.09
    x = 0.5 + rng.normal(0, np.sqrt(vb), n)
    samples = pd.DataFrame(
        {
            "prompt_id": np.repeat(np.arange(n), K),
            "sample_idx": np.tile(np.arange(K), n),
            "score": np.repeat(x, K) + rng.normal(0, np.sqrt(vw), n * K),
        }
    )
    mom = variance_components(samples, score="score").iloc[0]
    mlm = variance_components_mixedlm(samples, score="score").iloc[0]
    assert mlm["converged"]
    for est in (mom, mlm):
        assert est["var_between"] == pytest.approx(vb, abs=0.01)
        assert est["var_within"] == pytest.approx(vw, abs=0.01)
    # Balanced data: REML and ANOVA moments nearly coincide.
    assert mlm["var_between"] == pytest.approx(mom["var_between"], abs=0.002)
    assert mlm["var_within"] == pytest.approx(mom["var_within"], abs=0.002)


def test_mixedlm_agrees_on_binary_scores_per_group():
    rng = np.random.default_rng(6)
    p = beta_prompt_means(400, 0.45, 0.08, rng)
    samples = simulate_samples(p, 4, rng, source=np.where(np.arange(400) < 200, "a", "b"))
    mom = variance_components(samples, by="source").set_index("source")
    mlm = variance_components_mixedlm(samples, by="source").set_index("source")
    assert list(mlm.index) == ["a", "b"]
    for col in ("var_between", "var_within", "mean"):
        np.testing.assert_allclose(mlm[col], mom[col], atol=0.01)
    assert (mlm["n_prompts"] == 200).all() and (mlm["K"] == 4).all()
