"""Between- vs within-prompt variance components (Miller 2024, section on resampling).

Model: the score of sample j on prompt i is s_ij = x_i + e_ij, where x_i is the prompt's true
mean (difficulty) and e_ij the model's sampling noise with variance sigma_i^2.

- ``var_between`` = Var(x): variance of true prompt means. More prompts shrink its share of
  the SE; more samples per prompt do not.
- ``var_within`` = E[sigma_i^2]: mean within-prompt variance. Only this part shrinks with K.

For 0/1 correctness both are in squared accuracy units (fraction^2); between + within is the
variance of a single sample's score, p(1-p) overall for a binary score.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ssdlib.stats.prompts import as_list, prompt_means, score_values, validate_samples

COMPONENT_COLUMNS: tuple[str, ...] = (
    "n_prompts",
    "n_samples",
    "K",
    "mean",
    "var_between",
    "var_within",
    "var_total",
    "between_share",
    "var_between_raw",
    "var_prompt_means",
    "se",
)


def components_from_prompt_stats(
    means: np.ndarray, variances: np.ndarray, k: np.ndarray
) -> dict[str, float]:
    """Method-of-moments components from per-prompt means, variances (k-1 denominator) and k.

    - ``var_within`` = average over prompts with k >= 2 of their sample variance (unbiased
      for E[sigma_i^2]; every prompt weighs the same, matching Miller's expectation over prompts).
      Prompts with a single sample carry no within information and are skipped here, but
      still count in the mean and in the variance of prompt means.
    - ``var_between`` = Var(prompt means) - var_within * mean(1/k_i). Each prompt mean carries
      sampling noise sigma_i^2/k_i, so subtracting its average removes that noise; with
      unbalanced K this assumes k_i is unrelated to sigma_i^2 (true when K is set by budget).
      The raw estimate can go negative by chance when x barely varies; it is clipped at 0
      (``var_between_raw`` keeps the unclipped value). Clipping biases it slightly upward.
    - With a single sample for every prompt the two parts cannot be separated: both are NaN
      and ``var_total`` falls back to the variance of the per-prompt scores.

    ``se`` is the standard error of ``mean`` (sqrt(Var(prompt means)/n)), in score units.
    """
    means, variances, k = (np.asarray(a, dtype=float) for a in (means, variances, k))
    n = means.size
    var_means = means.var(ddof=1) if n >= 2 else np.nan
    has_within = k >= 2
    var_within = float(np.mean(variances[has_within])) if has_within.any() else np.nan
    if np.isnan(var_within):
        var_between_raw = var_between = np.nan
        var_total = var_means
    else:
        var_between_raw = var_means - var_within * float(np.mean(1.0 / k))
        var_between = max(var_between_raw, 0.0) if not np.isnan(var_between_raw) else np.nan
        var_total = var_between + var_within
    share = var_between / var_total if var_total > 0 else np.nan
    return {
        "n_prompts": int(n),
        "n_samples": int(k.sum()),
        "K": float(k.mean()),
        "mean": float(means.mean()),
        "var_between": float(var_between),
        "var_within": float(var_within),
        "var_total": float(var_total),
        "between_share": float(share),
        "var_between_raw": float(var_between_raw),
        "var_prompt_means": float(var_means),
        "se": float(np.sqrt(var_means / n)) if n >= 2 else np.nan,
    }


def variance_components(
    samples: pd.DataFrame,
    score: str = "correct",
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Between/within-prompt variance of ``score``, overall (one row) or per ``by`` group.

    Returns a DataFrame with the ``by`` columns (if any) then: ``n_prompts``, ``n_samples``,
    ``K`` (mean samples per prompt; unbalanced K is supported), ``mean`` (mean of prompt
    means: accuracy as a fraction), ``var_between``, ``var_within``, ``var_total``,
    ``between_share`` (= between / total), ``var_between_raw`` (before clipping at 0),
    ``var_prompt_means`` and ``se`` (SE of ``mean``). See :func:`components_from_prompt_stats`.
    """
    by_cols = as_list(by)
    pm = prompt_means(samples, score=score, by=by_cols)
    if not by_cols:
        row = components_from_prompt_stats(pm["mean"], pm["var"], pm["k"])
        return pd.DataFrame([row], columns=list(COMPONENT_COLUMNS))
    rows = []
    for key, g in pm.groupby(by_cols, sort=True, observed=True):
        row = dict(zip(by_cols, key))
        row.update(components_from_prompt_stats(g["mean"], g["var"], g["k"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*by_cols, *COMPONENT_COLUMNS])


def _fit_random_intercept(y: np.ndarray, groups: np.ndarray, reml: bool) -> dict[str, object]:
    """Fit y = mu + u_group + e with statsmodels MixedLM; return components and fit notes."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    # Same model as smf.mixedlm("y ~ 1", data, groups=prompt_id), without the formula parsing.
    model = MixedLM(y, np.ones((y.size, 1)), groups=groups)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # statsmodels' default optimiser chain (bfgs, lbfgs, cg); lbfgs alone can step
        # onto a singular random-effects covariance on 0/1 data and raise.
        fit = model.fit(reml=reml)
    var_between = float(np.asarray(fit.cov_re)[0, 0])
    var_within = float(fit.scale)
    total = var_between + var_within
    return {
        "mean": float(np.asarray(fit.fe_params)[0]),
        "var_between": var_between,
        "var_within": var_within,
        "var_total": total,
        "between_share": var_between / total if total > 0 else np.nan,
        "converged": bool(fit.converged),
        "warnings": "; ".join(sorted({str(w.message).splitlines()[0] for w in caught})),
    }


def variance_components_mixedlm(
    samples: pd.DataFrame,
    score: str = "correct",
    by: str | Sequence[str] | None = None,
    reml: bool = True,
) -> pd.DataFrame:
    """Cross-check of :func:`variance_components` with a random-intercept model (statsmodels).

    Fits ``score ~ 1 + (1 | prompt_id)`` by (RE)ML per group: ``var_between`` is the random
    intercept variance, ``var_within`` the residual variance. For a 0/1 score this is a linear
    probability model: it estimates the same moments but its Gaussian likelihood is
    misspecified, so expect agreement with the method-of-moments estimate, not exactness.
    Slow for many thousands of prompts (Python loop over groups). Returns ``n_prompts``,
    ``n_samples``, ``K``, ``mean``, ``var_between``, ``var_within``, ``var_total``,
    ``between_share``, ``converged`` and ``warnings`` (fit warnings, "" when none).
    """
    by_cols = as_list(by)
    validate_samples(samples, score, by_cols)
    frame = samples[[*by_cols, "prompt_id"]].copy()
    frame["_y"] = score_values(samples, score)
    groups = frame.groupby(by_cols, sort=True, observed=True) if by_cols else [((), frame)]
    rows = []
    for key, g in groups:
        row = dict(zip(by_cols, key if isinstance(key, tuple) else (key,)))
        k = g.groupby("prompt_id", observed=True).size()
        row.update({"n_prompts": int(k.size), "n_samples": int(k.sum()), "K": float(k.mean())})
        row.update(_fit_random_intercept(g["_y"].to_numpy(), g["prompt_id"].to_numpy(), reml))
        rows.append(row)
    return pd.DataFrame(rows)
