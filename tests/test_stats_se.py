"""Standard errors, confidence intervals and clustered SEs."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ssdlib.stats import (
    beta_prompt_means,
    ci,
    clustered_se,
    mean_se,
    prompt_means,
    se_for,
    simulate_samples,
)


def _simulate_evals(reps, n, K, mean, vb, seed):
    """Prompt means of ``reps`` independent evals (fresh prompts each), shape (reps, n)."""
    rng = np.random.default_rng(seed)
    conc = mean * (1 - mean) / vb - 1
    p = rng.beta(mean * conc, (1 - mean) * conc, size=(reps, n))
    return (rng.random((reps, n, K)) < p[..., None]).mean(axis=2)


def test_mean_se_matches_scipy_and_statsmodels():
    from statsmodels.stats.weightstats import DescrStatsW

    x = np.random.default_rng(0).random(50)
    assert mean_se(x) == pytest.approx(sps.sem(x))
    assert mean_se(x) == pytest.approx(DescrStatsW(x).std_mean)
    np.testing.assert_allclose(mean_se(np.stack([x, 2 * x]), axis=1), [sps.sem(x), 2 * sps.sem(x)])


def test_mean_se_rejects_too_few_or_nan():
    with pytest.raises(ValueError, match="at least 2"):
        mean_se([0.5])
    with pytest.raises(ValueError, match="NaN"):
        mean_se([0.5, np.nan, 1.0])


def test_se_for_formula_and_broadcast():
    assert se_for(100, 4, 0.2, 0.04) == pytest.approx(np.sqrt((0.2 + 0.01) / 100))
    se = se_for(100, np.array([1, 2, 4]), 0.2, 0.04)
    assert se.shape == (3,) and np.all(np.diff(se) < 0)
    with pytest.raises(ValueError):
        se_for(0, 1, 0.2, 0.04)


def test_se_for_predicts_spread_of_simulated_means():
    mean, vb, n, K = 0.4, 0.05, 200, 4
    vw = mean * (1 - mean) - vb
    evals = _simulate_evals(2000, n, K, mean, vb, seed=1)
    assert evals.mean(axis=1).std(ddof=1) == pytest.approx(se_for(n, K, vb, vw), rel=0.06)


def test_ci_covers_true_mean_95_percent_of_repeats():
    mean = 0.4
    evals = _simulate_evals(2000, 200, 4, mean, 0.05, seed=2)
    low, high = ci(evals.mean(axis=1), mean_se(evals, axis=1), level=0.95)
    coverage = np.mean((low <= mean) & (mean <= high))
    assert 0.93 <= coverage <= 0.97


def test_ci_normal_and_t():
    low, high = ci(0.5, 0.01)
    assert (low, high) == pytest.approx((0.5 - 0.0195996, 0.5 + 0.0195996), abs=1e-6)
    t_low, t_high = ci(0.5, 0.01, df=9)
    assert (t_low, t_high) == pytest.approx(sps.t.interval(0.95, 9, loc=0.5, scale=0.01))
    assert ci(0.5, 0.01, level=0.9)[1] < high
    with pytest.raises(ValueError):
        ci(0.5, 0.01, level=95)


def _clustered_samples(n_clusters, per_cluster, cluster_sd, seed):
    """Prompts whose accuracy shares a per-cluster shift (e.g. one source is easier)."""
    rng = np.random.default_rng(seed)
    shift = np.repeat(rng.normal(0, cluster_sd, n_clusters), per_cluster)
    p = np.clip(0.5 + shift + rng.normal(0, 0.1, shift.size), 0.01, 0.99)
    return simulate_samples(
        p, 2, rng, source=np.repeat([f"c{i}" for i in range(n_clusters)], per_cluster)
    )


def test_clustered_se_cr1_equals_statsmodels_ols_cluster():
    import statsmodels.api as sm

    samples = _clustered_samples(12, 15, 0.15, seed=3)
    pm = prompt_means(samples, keep="source")
    groups = pd.factorize(pm["source"])[0]
    fit = sm.OLS(pm["mean"].to_numpy(), np.ones(len(pm))).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    assert clustered_se(samples, "source", correction="cr1") == pytest.approx(
        float(fit.bse[0]), rel=1e-10
    )


def test_clustered_se_miller_equals_explicit_double_sum():
    samples = _clustered_samples(5, 8, 0.1, seed=4)
    pm = prompt_means(samples, keep="source")
    s, c = pm["mean"].to_numpy(), pm["source"].to_numpy()
    n, e = s.size, s - s.mean()
    cross = sum(e[i] * e[j] for i in range(n) for j in range(n) if i != j and c[i] == c[j])
    expected = np.sqrt(np.var(s, ddof=1) / n + cross / n**2)
    assert clustered_se(samples, "source") == pytest.approx(expected, rel=1e-10)


def test_clustered_se_reduces_to_plain_se_with_singleton_clusters():
    rng = np.random.default_rng(5)
    samples = simulate_samples(beta_prompt_means(40, 0.5, 0.05, rng), 3, rng, source=np.arange(40))
    plain = mean_se(prompt_means(samples)["mean"])
    assert clustered_se(samples, "source") == pytest.approx(plain)
    assert clustered_se(samples, "source", correction="cr1") == pytest.approx(plain)


def test_clustered_se_exceeds_plain_se_when_clusters_correlate():
    samples = _clustered_samples(20, 20, 0.2, seed=6)
    plain = mean_se(prompt_means(samples)["mean"])
    assert clustered_se(samples, "source") > 1.5 * plain


def test_clustered_se_validates_cluster_column():
    samples = _clustered_samples(3, 4, 0.1, seed=7)
    with pytest.raises(ValueError, match="'domain'"):
        clustered_se(samples, "domain")
    bad = samples.copy()
    bad.loc[bad.index[0], "source"] = "other"  # one sample of a prompt in another source
    with pytest.raises(ValueError, match="not constant within a prompt"):
        clustered_se(bad, "source")
    with pytest.raises(ValueError, match="correction"):
        clustered_se(samples, "source", correction="cr3")
