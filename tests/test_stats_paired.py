"""Paired comparison of two configs on shared prompts."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ssdlib.stats import (
    beta_prompt_means,
    paired_comparison,
    paired_table,
    prompt_means,
    simulate_samples,
)


def _two_configs(n=400, shift=0.05, seed=0, K_a=4, K_b=2):
    """Config b is config a made ``shift`` easier on every prompt: strongly correlated."""
    rng = np.random.default_rng(seed)
    p_a = beta_prompt_means(n, 0.45, 0.06, rng)
    p_b = np.clip(p_a + shift, 0, 1)
    return simulate_samples(p_a, K_a, rng, config_id="a"), simulate_samples(
        p_b, K_b, rng, config_id="b"
    )


def _diffs(a, b):
    ma = prompt_means(a).set_index("prompt_id")["mean"]
    mb = prompt_means(b).set_index("prompt_id")["mean"]
    return ma, mb, (mb - ma).dropna()


def test_paired_se_is_se_of_per_prompt_differences_and_beats_unpaired():
    a, b = _two_configs()
    res = paired_comparison(a, b)
    ma, mb, d = _diffs(a, b)
    n = len(d)
    assert res["n"] == n == 400
    assert res["diff"] == pytest.approx(d.mean())
    assert res["diff"] == pytest.approx(res["mean_b"] - res["mean_a"])
    assert res["se_paired"] == pytest.approx(d.std(ddof=1) / np.sqrt(n))
    # Miller: SE_paired^2 = SE_A^2 + SE_B^2 - 2 Cov(s_A, s_B) / n
    cov = np.cov(ma, mb, ddof=1)[0, 1]
    assert res["se_paired"] ** 2 == pytest.approx(res["se_a"] ** 2 + res["se_b"] ** 2 - 2 * cov / n)
    assert res["corr"] > 0.5
    assert res["se_paired"] < 0.8 * res["se_unpaired"]
    assert res["ci_low"] < res["diff"] < res["ci_high"]


def test_z_test_matches_statsmodels_and_t_test_matches_scipy():
    from statsmodels.stats.weightstats import DescrStatsW

    a, b = _two_configs(n=150, shift=0.03, seed=1)
    _, _, d = _diffs(a, b)
    z = paired_comparison(a, b, test="z", level=0.9)
    zstat, zp = DescrStatsW(d.to_numpy()).ztest_mean()
    assert (z["stat"], z["p_value"]) == pytest.approx((zstat, zp))
    assert (z["ci_low"], z["ci_high"]) == pytest.approx(
        DescrStatsW(d.to_numpy()).zconfint_mean(alpha=0.1)
    )
    t = paired_comparison(a, b, test="t")
    ref = sps.ttest_rel(prompt_means(b)["mean"], prompt_means(a)["mean"])
    assert (t["stat"], t["p_value"]) == pytest.approx((ref.statistic, ref.pvalue))
    assert (t["ci_low"], t["ci_high"]) == pytest.approx(DescrStatsW(d.to_numpy()).tconfint_mean())
    assert t["p_value"] > z["p_value"]  # t has heavier tails


def test_prompts_missing_from_one_side_are_dropped_and_counted():
    a, b = _two_configs(n=100, seed=2)
    b = b[~b["prompt_id"].isin([f"p{i}" for i in range(10)])]
    a = pd.concat([a, a.head(2).assign(prompt_id="only_a")])
    res = paired_comparison(a, b)
    assert (res["n"], res["n_dropped_a"], res["n_dropped_b"]) == (90, 11, 0)


def test_no_effect_gives_large_p_and_ci_containing_zero():
    rng = np.random.default_rng(3)
    p = beta_prompt_means(300, 0.5, 0.05, rng)
    a = simulate_samples(p, 4, rng, config_id="a")
    b = simulate_samples(p, 4, rng, config_id="b")
    res = paired_comparison(a, b)
    assert res["ci_low"] < 0 < res["ci_high"]
    assert res["p_value"] > 0.05


def test_rejects_bad_inputs():
    a, b = _two_configs(n=20, seed=4)
    with pytest.raises(ValueError, match="config_id"):
        paired_comparison(pd.concat([a, b]), b)
    with pytest.raises(ValueError, match="test"):
        paired_comparison(a, b, test="wilcoxon")
    with pytest.raises(ValueError, match="at least 2 prompts"):
        paired_comparison(a, b.assign(prompt_id="other_" + b["prompt_id"]))


def test_paired_table_compares_each_config_to_baseline():
    a, b = _two_configs(n=300, shift=0.08, seed=5)
    rng = np.random.default_rng(6)
    c = b.assign(config_id="c", correct=rng.random(len(b)) < 0.45)
    table = paired_table(pd.concat([a, b, c]), baseline_config="a")
    assert list(table.index) == ["b", "c"]  # sorted by diff, baseline excluded
    assert table.index.name == "config_id"
    assert table.loc["b", "diff"] == pytest.approx(paired_comparison(a, b)["diff"])
    assert (table["p_adjusted"] >= table["p_value"]).all()
    assert table.loc["b", "p_value"] < 0.01
    with pytest.raises(ValueError, match="baseline"):
        paired_table(pd.concat([a, b]), baseline_config="zzz")
