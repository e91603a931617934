"""Standard errors and confidence intervals of a mean score over prompts (Miller 2024).

All inputs and outputs are in score units: for correctness, a fraction in [0, 1]
(multiply by 100 for percentage points).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from ssdlib.stats.prompts import prompt_means


def mean_se(values, axis: int | None = None):
    """SE of the mean of prompt-level values: std(values, ddof=1) / sqrt(n).

    ``values`` are per-prompt scores (e.g. per-prompt mean accuracy), one per independent
    prompt. Vectorised: with ``axis`` it reduces that axis of an array (e.g. many simulated
    evals at once). Raises ValueError with fewer than two values or any NaN.
    """
    arr = np.asarray(values, dtype=float)
    n = arr.size if axis is None else arr.shape[axis]
    if n < 2:
        raise ValueError(f"need at least 2 prompt-level values for an SE, got {n}")
    if np.isnan(arr).any():
        raise ValueError("prompt-level values contain NaN")
    return np.std(arr, axis=axis, ddof=1) / np.sqrt(n)


def se_for(n, K, var_between, var_within):
    """Predicted SE of the mean over ``n`` prompts with ``K`` samples each.

    SE = sqrt((Var(x) + E[sigma^2] / K) / n), with ``var_between`` = Var(x) and
    ``var_within`` = E[sigma^2] in squared score units (fraction^2 for accuracy).
    Broadcasts over array arguments (e.g. a grid of K).
    """
    n, K = np.asarray(n, dtype=float), np.asarray(K, dtype=float)
    if np.any(n <= 0) or np.any(K <= 0):
        raise ValueError("n and K must be positive")
    return np.sqrt(
        (np.asarray(var_between, dtype=float) + np.asarray(var_within, dtype=float) / K) / n
    )


def critical_value(level: float = 0.95, df=None) -> float:
    """Two-sided critical value: normal quantile, or Student t with ``df`` degrees of freedom."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    q = 0.5 + level / 2
    return float(sps.norm.ppf(q)) if df is None else float(sps.t.ppf(q, df))


def ci(mean, se, level: float = 0.95, df=None):
    """Two-sided confidence interval ``(low, high)`` = mean -/+ crit * se.

    ``crit`` is the normal quantile (Miller's CLT interval) or, with ``df``, the Student t
    quantile. Broadcasts over arrays; units are those of ``mean``.
    """
    half = critical_value(level, df) * np.asarray(se, dtype=float)
    mean = np.asarray(mean, dtype=float)
    low, high = mean - half, mean + half
    return (float(low), float(high)) if low.ndim == 0 else (low, high)


def clustered_se(
    samples: pd.DataFrame,
    cluster: str = "source",
    score: str = "correct",
    correction: str = "miller",
) -> float:
    """Cluster-robust SE of the mean over prompts, when prompts come in correlated groups.

    Works on per-prompt means s_i (unit = prompt), with residuals e_i = s_i - mean and
    clusters c (``cluster`` must be constant within a prompt, e.g. its source).

    - ``correction="miller"`` (Miller 2024 eq. 4): SE^2 = SE_CLT^2 + (1/n^2) sum_c sum_{i != j in c} e_i e_j,
      with SE_CLT the ordinary SE (ddof=1). With one prompt per cluster it equals :func:`mean_se`.
    - ``correction="cr1"``: the usual CR1 sandwich, G/(G-1) * (1/n^2) sum_c (sum_{i in c} e_i)^2
      with G clusters; equals statsmodels OLS ``cov_type="cluster"`` on the prompt means.

    With few clusters (e.g. 4 sources) any clustered SE is itself very noisy: report it
    next to the ordinary SE rather than instead of it. Returns the SE in score units.
    """
    if correction not in ("miller", "cr1"):
        raise ValueError(f"correction must be 'miller' or 'cr1', got {correction!r}")
    pm = prompt_means(samples, score=score, keep=cluster)
    if pm[cluster].isna().any():
        raise ValueError(f"cluster column {cluster!r} has missing values")
    s = pm["mean"].to_numpy()
    n = s.size
    if n < 2:
        raise ValueError(f"need at least 2 prompts for an SE, got {n}")
    resid = s - s.mean()
    cluster_sums = pd.Series(resid).groupby(pm[cluster].to_numpy()).sum().to_numpy()
    sum_sq_clusters = float(np.sum(cluster_sums**2))
    if correction == "cr1":
        g = cluster_sums.size
        if g < 2:
            raise ValueError("CR1 needs at least 2 clusters")
        return float(np.sqrt(g / (g - 1) * sum_sq_clusters / n**2))
    sum_sq = float(np.sum(resid**2))
    se_clt_sq = sum_sq / (n * (n - 1))
    # sum over i != j within clusters = (sum of cluster sums^2) - (sum of squares).
    cross = (sum_sq_clusters - sum_sq) / n**2
    # Negative within-cluster correlation can push the total below 0 in tiny samples.
    return float(np.sqrt(max(se_clt_sq + cross, 0.0)))
