"""Power analysis and eval budget planning for comparing two configs (Miller 2024, section 5).

Effects ``delta`` are differences in accuracy as fractions (0.05 = 5 p.p.); variances are in
squared accuracy units. All tests are two-sided at level ``alpha`` with power ``power``.

Paired design (both configs on the same n prompts, K_A / K_B samples each): the per-prompt
difference has variance V = w^2 + sA^2/K_A + sB^2/K_B, with w^2 = Var(xA) + Var(xB) - 2 Cov(xA, xB)
(between-prompt parts) and sA^2, sB^2 the within-prompt variances. Then

    n = (z_{alpha/2} + z_beta)^2 * V / delta^2.

Like Miller, this ignores the (negligible) chance of rejecting in the wrong tail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps


def z_sum(alpha: float = 0.05, power: float = 0.8) -> float:
    """z_{alpha/2} + z_beta: the two-sided critical value plus the power quantile."""
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha}, {power}")
    return float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))


def paired_diff_variance(
    *,
    var_between_a: float,
    var_between_b: float | None = None,
    cov_between: float = 0.0,
    var_within_a: float = 0.0,
    var_within_b: float | None = None,
    K_a=1,
    K_b=1,
):
    """V = w^2 + sA^2/K_A + sB^2/K_B: variance of one prompt's difference in mean score.

    ``*_b`` default to the ``*_a`` values (two configs of similar variance).
    ``cov_between`` = Cov(xA, xB) of true prompt means; 0 (the default) plans as if prompts
    were not shared, which is conservative when the configs find the same prompts hard.
    """
    var_between_b = var_between_a if var_between_b is None else var_between_b
    var_within_b = var_within_a if var_within_b is None else var_within_b
    _check_finite(
        var_between_a=var_between_a,
        var_between_b=var_between_b,
        cov_between=cov_between,
        var_within_a=var_within_a,
        var_within_b=var_within_b,
        K_a=K_a,
        K_b=K_b,
    )
    K_a, K_b = np.asarray(K_a, dtype=float), np.asarray(K_b, dtype=float)
    if np.any(K_a <= 0) or np.any(K_b <= 0):
        raise ValueError("K_a and K_b must be positive")
    w2 = var_between_a + var_between_b - 2 * cov_between
    v = w2 + var_within_a / K_a + var_within_b / K_b
    if np.any(np.asarray(v) <= 0):
        raise ValueError(f"variance of the per-prompt difference must be positive, got {v}")
    return v


def required_prompts(
    delta,
    alpha: float = 0.05,
    power: float = 0.8,
    *,
    var_between_a: float,
    var_between_b: float | None = None,
    cov_between: float = 0.0,
    var_within_a: float = 0.0,
    var_within_b: float | None = None,
    K_a=1,
    K_b=1,
):
    """Prompts n needed to detect a difference ``delta`` (fraction) between two configs.

    n = (z_{alpha/2} + z_beta)^2 (w^2 + sA^2/K_A + sB^2/K_B) / delta^2 (see the module doc and
    :func:`paired_diff_variance`). Returns the exact (fractional) n, broadcasting over arrays;
    round up with ``math.ceil`` for a plan. Example (Miller): w^2 = 1/9, within 0,
    delta 0.03, alpha 0.05, power 0.8 -> n = 969.0.
    """
    delta = np.asarray(delta, dtype=float)
    if np.any(delta == 0):
        raise ValueError("delta must be non-zero")
    v = paired_diff_variance(
        var_between_a=var_between_a,
        var_between_b=var_between_b,
        cov_between=cov_between,
        var_within_a=var_within_a,
        var_within_b=var_within_b,
        K_a=K_a,
        K_b=K_b,
    )
    n = z_sum(alpha, power) ** 2 * v / delta**2
    return float(n) if np.ndim(n) == 0 else n


def required_prompts_simple(sigma2: float, delta, alpha: float = 0.05, power: float = 0.8):
    """The seed post's form: n = 2 sigma^2 (z_{alpha/2} + z_beta)^2 / delta^2 per config.

    ``sigma2`` is the per-prompt score variance of each config (taken equal for both), e.g.
    p(1-p) at K=1. The post prints the z-sum unsquared; the standard formula (used here)
    squares it. Equals :func:`required_prompts` with var_between_a = sigma2, cov 0, within 0.
    """
    delta = np.asarray(delta, dtype=float)
    if np.any(delta == 0):
        raise ValueError("delta must be non-zero")
    n = 2 * sigma2 * z_sum(alpha, power) ** 2 / delta**2
    return float(n) if np.ndim(n) == 0 else n


def minimum_detectable_effect(
    n,
    alpha: float = 0.05,
    power: float = 0.8,
    *,
    var_between_a: float,
    var_between_b: float | None = None,
    cov_between: float = 0.0,
    var_within_a: float = 0.0,
    var_within_b: float | None = None,
    K_a=1,
    K_b=1,
):
    """Smallest |difference| (fraction; x100 for p.p.) detectable with ``n`` prompts.

    delta = (z_{alpha/2} + z_beta) sqrt(V / n): :func:`required_prompts` solved for delta.
    Broadcasts over ``n`` and ``K_a``/``K_b``.
    """
    n = np.asarray(n, dtype=float)
    if np.any(n <= 0):
        raise ValueError("n must be positive")
    v = paired_diff_variance(
        var_between_a=var_between_a,
        var_between_b=var_between_b,
        cov_between=cov_between,
        var_within_a=var_within_a,
        var_within_b=var_within_b,
        K_a=K_a,
        K_b=K_b,
    )
    mde = z_sum(alpha, power) * np.sqrt(v / n)
    return float(mde) if np.ndim(mde) == 0 else mde


def achieved_power(n, delta, alpha: float = 0.05, **variances):
    """Power of the two-sided test with ``n`` prompts against a true difference ``delta``.

    Phi(|delta| sqrt(n / V) - z_{alpha/2}), the inverse of :func:`required_prompts`;
    ``variances`` are the keyword arguments of :func:`paired_diff_variance`.
    """
    v = paired_diff_variance(**variances)
    z = np.abs(np.asarray(delta, dtype=float)) * np.sqrt(
        np.asarray(n, dtype=float) / v
    ) - sps.norm.ppf(1 - alpha / 2)
    out = sps.norm.cdf(z)
    return float(out) if np.ndim(out) == 0 else out


def power_inputs(a: pd.DataFrame, b: pd.DataFrame, score: str = "correct") -> dict[str, float]:
    """Pilot estimates of the :func:`required_prompts` variance inputs from two configs' samples.

    ``var_between_*``/``var_within_*``/``K_*`` come from
    :func:`ssdlib.stats.variance_components` of each table; ``cov_between`` is the covariance
    of prompt means over shared prompts (sampling noise of the two configs is independent,
    so it estimates Cov(xA, xB) without correction).
    """
    from ssdlib.stats import prompt_means, variance_components

    ca, cb = variance_components(a, score).iloc[0], variance_components(b, score).iloc[0]
    pa = prompt_means(a, score).set_index("prompt_id")["mean"]
    pb = prompt_means(b, score).set_index("prompt_id")["mean"]
    shared = pa.index.intersection(pb.index)
    if len(shared) < 2:
        raise ValueError(
            f"need at least 2 shared prompts to estimate the covariance, got {len(shared)}"
        )
    cov = float(np.cov(pa.loc[shared], pb.loc[shared], ddof=1)[0, 1])
    return {
        "var_between_a": float(ca["var_between"]),
        "var_between_b": float(cb["var_between"]),
        "cov_between": cov,
        "var_within_a": float(ca["var_within"]),
        "var_within_b": float(cb["var_within"]),
        "K_a": float(ca["K"]),
        "K_b": float(cb["K"]),
    }


def budget_planner(
    delta: float,
    var_between: float,
    var_within: float,
    mean_tokens_per_sample: float,
    max_prompts: int,
    K_options: Sequence[int] = (1, 2, 4, 8),
    alpha: float = 0.05,
    power: float = 0.8,
    *,
    cov_between: float = 0.0,
    n_configs: int = 1,
) -> pd.DataFrame:
    """For each K, how many prompts detect ``delta`` and what generating them costs.

    Both configs are assumed to share ``var_between``/``var_within`` and to use the same K.
    Columns: ``K``; ``n_required`` (ceil of :func:`required_prompts`); ``fits``
    (n_required <= ``max_prompts``, the prompts available); ``tokens`` = n_required * K *
    ``mean_tokens_per_sample`` * ``n_configs`` (generated tokens; pass n_configs=2 to count
    both arms of a fresh comparison); ``mde_at_max_prompts`` (fraction detectable using all
    available prompts at this K); ``cheapest_feasible`` (True on the cheapest row that fits,
    none when nothing fits). Sorted by ``tokens`` ascending.
    """
    rows = []
    for K in K_options:
        kw = dict(
            var_between_a=var_between,
            cov_between=cov_between,
            var_within_a=var_within,
            K_a=K,
            K_b=K,
        )
        # Round up to whole prompts; the epsilon keeps an exact integer (969.0000000001 from
        # float error) from becoming one prompt more.
        n_req = math.ceil(required_prompts(delta, alpha, power, **kw) - 1e-9)
        rows.append(
            {
                "K": int(K),
                "n_required": n_req,
                "fits": n_req <= max_prompts,
                "tokens": float(n_req * K * mean_tokens_per_sample * n_configs),
                "mde_at_max_prompts": minimum_detectable_effect(max_prompts, alpha, power, **kw),
            }
        )
    table = pd.DataFrame(rows).sort_values(["tokens", "K"], kind="stable").reset_index(drop=True)
    table["cheapest_feasible"] = False
    feasible = table.index[table["fits"]]
    if len(feasible):
        table.loc[feasible[0], "cheapest_feasible"] = True
    return table


# ----------------------------------------------------------------------------- plan the test 06 runs


def _check_finite(**values) -> None:
    bad = {k: v for k, v in values.items() if not np.all(np.isfinite(np.asarray(v, dtype=float)))}
    if bad:
        raise ValueError(
            f"power inputs must be finite numbers, got {bad}: a pilot with one sample per prompt "
            "or with no spread cannot estimate them (see planning_variances)"
        )


def planning_variances(components: pd.Series | dict) -> tuple[float, float, str]:
    """``(var_between, var_within, note)`` to plan with, from one row of
    :func:`ssdlib.stats.variance_components`.

    With K >= 2 the measured components are used. A K = 1 pilot cannot separate the two (both come
    back NaN): all the variance of the prompt means is treated as between-prompt and within as 0,
    which the note states. A pilot with no variance at all (every sample scored the same) falls back
    to the largest variance a 0/1 score can have, 0.25, all between-prompt, and says so.
    """
    vb, vw = float(components["var_between"]), float(components["var_within"])
    if np.isfinite(vb) and np.isfinite(vw) and vb + vw > 0:
        return vb, vw, f"measured (K = {float(components['K']):g})"
    vpm = float(components.get("var_prompt_means", np.nan))
    if float(components["K"]) <= 1 and np.isfinite(vpm) and vpm > 0:
        return (
            vpm,
            0.0,
            "K = 1 pilot: between = variance of prompt means, within = 0 (not separable)",
        )
    return (
        0.25,
        0.0,
        "assumed: Bernoulli maximum 0.25, all between-prompt (the pilot had zero variance)",
    )


def between_prompt_correlation(
    a: pd.DataFrame, b: pd.DataFrame, score: str = "correct"
) -> dict[str, float]:
    """Correlation of two configs' TRUE prompt means, estimated on the prompts both were run on.

    Cov of observed prompt means estimates Cov(xA, xB) without bias (the two configs' sampling
    noise is independent); dividing by the between-prompt SDs (within noise removed, per
    :func:`ssdlib.stats.variance_components`) gives the correlation of true means. With K = 1 the
    within part is not separable and the raw correlation of prompt means is returned instead: it is
    attenuated toward 0, so the paired plan it gives is conservative (more prompts). Returns
    ``corr``, ``corr_raw`` (of observed prompt means), ``n_shared`` and ``method``.
    """
    from ssdlib.stats import prompt_means, variance_components

    pa = prompt_means(a, score).set_index("prompt_id")["mean"]
    pb = prompt_means(b, score).set_index("prompt_id")["mean"]
    shared = pa.index.intersection(pb.index)
    if len(shared) < 3:
        raise ValueError(
            f"need at least 3 shared prompts to estimate a correlation, got {len(shared)}"
        )
    xa, xb = pa.loc[shared].to_numpy(float), pb.loc[shared].to_numpy(float)
    if xa.std() == 0 or xb.std() == 0:
        raise ValueError(
            "one config scored the same on every shared prompt: no correlation to estimate"
        )
    raw = float(np.corrcoef(xa, xb)[0, 1])
    cov = float(np.cov(xa, xb, ddof=1)[0, 1])
    ca = variance_components(a[a["prompt_id"].isin(shared)], score).iloc[0]
    cb = variance_components(b[b["prompt_id"].isin(shared)], score).iloc[0]
    vb_a, vb_b = float(ca["var_between"]), float(cb["var_between"])
    if np.isfinite(vb_a) and np.isfinite(vb_b) and vb_a > 0 and vb_b > 0:
        corr, method = (
            float(np.clip(cov / np.sqrt(vb_a * vb_b), -1, 1)),
            "true prompt means (within noise removed)",
        )
    else:
        corr, method = raw, "observed prompt means (K = 1: attenuated, conservative)"
    return {"corr": corr, "corr_raw": raw, "n_shared": int(len(shared)), "method": method}


def paired_vs_unpaired(
    delta: float,
    var_between: float,
    var_within: float,
    correlations: dict[str, float],
    *,
    K: int = 1,
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """Prompts needed to detect ``delta`` (fraction) with the unpaired test and with the paired
    test 06 actually runs, at each between-prompt correlation in ``correlations`` (label -> rho).

    Both arms share ``var_between``/``var_within`` and use K samples per prompt. Unpaired: per-arm
    variance s^2 = vb + vw/K, two-sample t (statsmodels ``TTestIndPower``, n per arm). Paired:
    V = 2 vb (1 - rho) + 2 vw / K, one-sample t on the per-prompt differences (``TTestPower``).
    ``n_normal`` is the closed form (z_a/2 + z_b)^2 V / delta^2 (Miller); ``n_t`` the t-based
    solution. Columns: ``design``, ``correlation``, ``correlation_source``, ``var_diff``,
    ``n_normal``, ``n_t`` (ceil), ``vs_unpaired`` (n_t / unpaired n_t).
    """
    from statsmodels.stats.power import TTestIndPower, TTestPower

    _check_finite(delta=delta, var_between=var_between, var_within=var_within, **correlations)
    if delta == 0 or var_between + var_within <= 0 or K < 1:
        raise ValueError(
            f"need delta != 0, positive variance and K >= 1 (got {delta}, {var_between}, {var_within}, {K})"
        )
    s2 = var_between + var_within / K
    z2 = z_sum(alpha, power) ** 2
    rows = [
        {
            "design": "unpaired (two independent arms)",
            "correlation": np.nan,
            "correlation_source": "",
            "var_diff": 2 * s2,
            "n_normal": z2 * 2 * s2 / delta**2,
            "n_t": math.ceil(
                TTestIndPower().solve_power(
                    abs(delta) / math.sqrt(s2), alpha=alpha, power=power, ratio=1.0
                )
                - 1e-9
            ),
        }
    ]
    for label, rho in correlations.items():
        if not -1 <= rho <= 1:
            raise ValueError(f"correlation {label!r} = {rho} is outside [-1, 1]")
        v = 2 * var_between * (1 - rho) + 2 * var_within / K
        if v <= 0:
            raise ValueError(f"correlation {label!r} = {rho} leaves no variance in the differences")
        n_t = TTestPower().solve_power(abs(delta) / math.sqrt(v), alpha=alpha, power=power)
        rows.append(
            {
                "design": "paired (same prompts)",
                "correlation": float(rho),
                "correlation_source": label,
                "var_diff": v,
                "n_normal": z2 * v / delta**2,
                "n_t": math.ceil(n_t - 1e-9),
            }
        )
    out = pd.DataFrame(rows)
    out["vs_unpaired"] = out["n_t"] / out["n_t"].iloc[0]
    return out


def seeds_settings(between_share: float = 0.85, var_total: float = 0.25) -> tuple[float, float]:
    """``(var_between, var_within)`` at the seeds' numbers: > 85% of a 0/1 score's variance between
    prompts, total p(1-p) = 0.25 at the largest (accuracy ~50%)."""
    return between_share * var_total, (1 - between_share) * var_total


def variance_headline(
    samples: pd.DataFrame,
    components: pd.Series,
    *,
    budget: str,
    preset: str,
    budget_sizes: dict[str, int],
    target_delta: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """04's one-row headline: accuracy and per-prompt SE of the pilot (no SE clustered by source: with
    a handful of fixed sources it is not a usable error bar; sources are strata), the variance used to plan
    (and where it came from), prompts for ``target_delta`` at K = 1 in Miller's form and in the seed
    post's form (both UNPAIRED: the paired plan is :func:`paired_vs_unpaired`), and the MDE (p.p.)
    of each budget at K = 1."""
    vb, vw, note = planning_variances(components)
    k = samples.groupby("prompt_id").size()
    pp = f"{target_delta * 100:g}pp"
    row = {
        "budget": budget,
        "preset": preset,
        "variance_source": note,
        "n_prompts": int(k.size),
        "K": int(k.min()),
        "accuracy": float(components["mean"]),
        "se": float(components["se"]),
        "var_between": vb,
        "var_within": vw,
        "between_share": vb / (vb + vw),
        f"n_for_{pp}_K1_unpaired": required_prompts(
            target_delta, alpha, power, var_between_a=vb, var_within_a=vw
        ),
        f"n_for_{pp}_seed_form": required_prompts_simple(vb + vw, target_delta, alpha, power),
        **{
            f"mde_pp_{b}_K1_unpaired": 100
            * minimum_detectable_effect(m, alpha, power, var_between_a=vb, var_within_a=vw)
            for b, m in budget_sizes.items()
        },
    }
    return pd.DataFrame([row])
