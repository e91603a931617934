"""Power analysis: closed forms, Miller's worked check, and statsmodels agreement."""

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power

from ssdlib.stats import beta_prompt_means, prompt_means, simulate_samples
from ssdlib.stats.power import (
    achieved_power,
    budget_planner,
    minimum_detectable_effect,
    paired_diff_variance,
    power_inputs,
    required_prompts,
    required_prompts_simple,
)


def test_miller_worked_check_gives_969():
    # w^2 = Var(xA) + Var(xB) - 2 Cov = 1/9, no within variance.
    n = required_prompts(0.03, 0.05, 0.8, var_between_a=1 / 9, var_between_b=0.0)
    assert n == pytest.approx(969, abs=0.05)
    assert math.ceil(n) == 969
    split = required_prompts(0.03, var_between_a=1 / 18, var_between_b=1 / 18)
    assert split == pytest.approx(n)


def test_simple_form_matches_statsmodels_two_sample_power():
    sigma2, delta = 0.25, 0.05
    n = required_prompts_simple(sigma2, delta)
    effect = delta / math.sqrt(sigma2)
    # statsmodels' two-sided power also counts the far tail: negligible at this n.
    assert n == pytest.approx(
        NormalIndPower().solve_power(effect, alpha=0.05, power=0.8, ratio=1), rel=1e-4
    )
    assert n == pytest.approx(zt_ind_solve_power(effect, alpha=0.05, power=0.8, ratio=1), rel=1e-4)
    # One-tailed at alpha/2 is exactly the closed form.
    exact = NormalIndPower().solve_power(
        effect, alpha=0.025, power=0.8, ratio=1, alternative="larger"
    )
    assert n == pytest.approx(exact, rel=1e-6)


def test_simple_form_is_general_form_with_equal_variances_and_no_pairing():
    assert required_prompts_simple(0.2, 0.04) == pytest.approx(
        required_prompts(0.04, var_between_a=0.2)
    )
    assert required_prompts_simple(0.2, 0.04) == pytest.approx(
        required_prompts(0.04, var_between_a=0.15, var_within_a=0.05)
    )


def test_general_form_matches_statsmodels_one_sample_power_on_differences():
    kw = dict(
        var_between_a=0.2,
        var_between_b=0.18,
        cov_between=0.15,
        var_within_a=0.05,
        var_within_b=0.06,
        K_a=4,
        K_b=2,
    )
    v = paired_diff_variance(**kw)
    assert v == pytest.approx(0.2 + 0.18 - 0.3 + 0.05 / 4 + 0.06 / 2)
    n = required_prompts(0.03, **kw)
    ref = NormalIndPower().solve_power(
        0.03 / math.sqrt(v), alpha=0.05, power=0.8, ratio=0
    )  # ratio=0: one sample
    assert n == pytest.approx(ref, rel=1e-4)
    mde = minimum_detectable_effect(500, **kw)
    ref_mde = NormalIndPower().solve_power(
        None, nobs1=500, alpha=0.05, power=0.8, ratio=0
    ) * math.sqrt(v)
    assert mde == pytest.approx(ref_mde, rel=1e-4)
    assert achieved_power(500, 0.03, **kw) == pytest.approx(
        NormalIndPower().power(0.03 / math.sqrt(v), 500, alpha=0.05, ratio=0), abs=1e-4
    )


def test_mde_and_power_invert_required_prompts():
    kw = dict(var_between_a=0.2, var_within_a=0.04, K_a=2, K_b=2)
    n = required_prompts(0.05, alpha=0.01, power=0.9, **kw)
    assert minimum_detectable_effect(n, alpha=0.01, power=0.9, **kw) == pytest.approx(0.05)
    assert achieved_power(n, 0.05, alpha=0.01, **kw) == pytest.approx(0.9)


def test_scaling_and_monotonicity():
    base = dict(var_between_a=0.2, var_within_a=0.05)
    n = required_prompts(0.05, **base)
    assert required_prompts(0.025, **base) == pytest.approx(4 * n)
    assert required_prompts(0.05, **base, K_a=8, K_b=8) < n
    assert required_prompts(0.05, **base, cov_between=0.15) < n  # pairing helps
    assert required_prompts(0.05, power=0.9, **base) > n
    deltas = np.array([0.02, 0.05, 0.1])
    assert np.all(np.diff(required_prompts(deltas, **base)) < 0)
    assert minimum_detectable_effect(np.array([100, 400]), **base) == pytest.approx(
        [minimum_detectable_effect(100, **base), minimum_detectable_effect(100, **base) / 2]
    )


def test_simulated_paired_z_test_has_the_planned_power():
    rng = np.random.default_rng(0)
    v, delta = 0.1, 0.04
    n = math.ceil(required_prompts(delta, var_between_a=v / 2))  # V = v
    d = rng.normal(delta, math.sqrt(v), size=(4000, n))
    z = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    assert 0.77 <= np.mean(np.abs(z) > 1.959964) <= 0.83


def test_invalid_arguments():
    with pytest.raises(ValueError):
        required_prompts(0.0, var_between_a=0.2)
    with pytest.raises(ValueError):
        required_prompts(0.05, alpha=1.5, var_between_a=0.2)
    with pytest.raises(ValueError, match="positive"):
        required_prompts(0.05, var_between_a=0.1, cov_between=0.1)  # zero variance
    with pytest.raises(ValueError):
        minimum_detectable_effect(0, var_between_a=0.2)


def test_power_inputs_estimates_shared_difficulty():
    rng = np.random.default_rng(1)
    p = beta_prompt_means(2000, 0.5, 0.08, rng)
    a = simulate_samples(p, 4, rng, config_id="a")
    b = simulate_samples(np.clip(p + 0.05, 0, 1), 4, rng, config_id="b")
    est = power_inputs(a, b)
    assert est["cov_between"] == pytest.approx(np.cov(p, np.clip(p + 0.05, 0, 1))[0, 1], abs=0.01)
    assert est["var_between_a"] == pytest.approx(0.08, abs=0.01)
    assert est["K_a"] == 4
    # The planned variance of a prompt's difference matches the observed one.
    d = prompt_means(b)["mean"].to_numpy() - prompt_means(a)["mean"].to_numpy()
    assert paired_diff_variance(**est) == pytest.approx(d.var(ddof=1), rel=0.05)
    assert required_prompts(0.05, **est) < required_prompts(0.05, **{**est, "cov_between": 0.0}) / 2


def test_budget_planner_rows_costs_and_cheapest_flag():
    vb, vw = 0.2, 0.05
    plan = budget_planner(0.05, vb, vw, mean_tokens_per_sample=10_000, max_prompts=1500)
    assert list(plan.columns) == [
        "K",
        "n_required",
        "fits",
        "tokens",
        "mde_at_max_prompts",
        "cheapest_feasible",
    ]
    assert plan["tokens"].is_monotonic_increasing
    k1 = plan.set_index("K").loc[1]
    assert k1["n_required"] == math.ceil(required_prompts_simple(vb + vw, 0.05))
    assert (plan["tokens"] == plan["n_required"] * plan["K"] * 10_000).all()
    assert (plan["fits"] == (plan["n_required"] <= 1500)).all()
    assert plan["cheapest_feasible"].sum() == 1
    assert plan.loc[plan["cheapest_feasible"], "K"].item() == plan.loc[plan["fits"], "K"].iloc[0]


def test_budget_planner_when_few_prompts_forces_larger_k_or_nothing():
    # Within-heavy variance: more samples per prompt make up for few prompts.
    plan = budget_planner(0.1, 0.02, 0.2, 1000, max_prompts=250, n_configs=2).set_index("K")
    assert not plan.loc[1, "fits"] and plan.loc[8, "fits"]
    assert plan.loc[plan["cheapest_feasible"]].index.item() > 1
    assert plan.loc[8, "tokens"] == plan.loc[8, "n_required"] * 8 * 1000 * 2
    none = budget_planner(0.01, 0.2, 0.05, 1000, max_prompts=100)
    assert not none["fits"].any() and not none["cheapest_feasible"].any()


# ----------------------------------------------------------------------------- plan the test 06 runs


def test_paired_vs_unpaired_at_the_seeds_settings():
    from statsmodels.stats.power import TTestIndPower

    from ssdlib.stats.power import paired_vs_unpaired, seeds_settings

    vb, vw = seeds_settings()  # 85% of 0.25 between prompts
    t = paired_vs_unpaired(0.05, vb, vw, {"0.5": 0.5, "0.8": 0.8, "0.9": 0.9})
    # Closed forms: unpaired 2 * 0.25 * 7.849 / 0.0025 = 1,570; paired at rho: (2 vb (1 - rho) + 2 vw) * 7.849 / 0.0025.
    assert t.n_normal.round().tolist() == [1570, 903, 502, 369]
    assert t.n_t.iloc[0] == math.ceil(TTestIndPower().solve_power(0.1, alpha=0.05, power=0.8))
    assert (t.n_t >= t.n_normal).all() and (
        t.n_t - t.n_normal < 4
    ).all()  # t costs a few prompts at this n
    assert t.n_t.is_monotonic_decreasing  # stronger pairing, fewer prompts


def test_k1_pilot_is_planned_from_prompt_means_and_nan_inputs_raise():
    from ssdlib.stats import variance_components
    from ssdlib.stats.power import planning_variances

    rng = np.random.default_rng(0)
    k1 = simulate_samples(beta_prompt_means(200, 0.4, 0.2, rng), 1, rng)
    comp = variance_components(k1).iloc[0]
    assert np.isnan(comp.var_between) and np.isnan(comp.var_within)
    with pytest.raises(ValueError, match="finite"):
        required_prompts(0.05, var_between_a=comp.var_between, var_within_a=comp.var_within)
    vb, vw, note = planning_variances(comp)
    assert vb == pytest.approx(comp.var_prompt_means) and vw == 0 and "K = 1" in note
    assert math.isfinite(required_prompts(0.05, var_between_a=vb, var_within_a=vw))
    flat = simulate_samples(np.zeros(50), 2, rng)
    assert planning_variances(variance_components(flat).iloc[0])[:2] == (0.25, 0.0)


def test_between_prompt_correlation_recovers_the_truth():
    from ssdlib.stats.power import between_prompt_correlation

    rng = np.random.default_rng(4)
    x = beta_prompt_means(3000, 0.45, 0.2, rng)
    y = np.clip(0.8 * x + 0.2 * rng.permutation(x), 0, 1)  # true corr of means well below 1
    truth = np.corrcoef(x, y)[0, 1]
    a, b = simulate_samples(x, 4, rng, config_id="a"), simulate_samples(y, 4, rng, config_id="b")
    est = between_prompt_correlation(a, b)
    assert est["corr"] == pytest.approx(truth, abs=0.05)
    assert est["corr_raw"] < est["corr"]  # within noise attenuates the raw correlation
    one = between_prompt_correlation(a[a.sample_idx == 0], b[b.sample_idx == 0])
    assert "K = 1" in one["method"] and one["corr"] == one["corr_raw"] < truth
