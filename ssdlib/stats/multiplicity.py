"""Verdicts over a declared family of comparisons: Holm's step-down test and CIs that agree with it.

A study that compares several models with one baseline and calls each "better" when its own 95%
CI excludes 0 has a family false-positive rate well above 5% (7 noise-only models: ~0.10 at
mild correlation). Here the family is declared before the data (the rows of one table), the
p-values are adjusted with Holm (checked against statsmodels ``multipletests``), and the verdict reads the
adjusted p-value.

The CI printed beside a verdict is computed at the level Holm used for that row, so the two can
never disagree: with the p-values sorted ascending, rows 1..s-1 rejected and row s the first
not rejected, row i gets level 1 - alpha / (m - min(i, s) + 1). A rejected row's CI then excludes
0 (its p is below alpha / (m - i + 1)); an unrejected row's CI is at least as wide as the one at
which the step-down stopped, so it contains 0 whenever that row is not significant there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

VERDICTS = ("better", "worse", "no detectable difference", "undetermined")


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values; NaN inputs stay NaN and do not count in the family.

    Written out (sort, scale by m - rank + 1, running max, cap at 1) rather than calling
    statsmodels' ``multipletests``, which runs ``gc.collect()`` on every call (~0.2 s): too slow for
    the family-wise simulations. The tests check it equals ``multipletests(method="holm")``.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        m = order.size
        scaled = p[order] * (m - np.arange(m))
        out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def holm_ci_levels(p_values: Sequence[float], alpha: float = 0.05) -> np.ndarray:
    """Per-row confidence level consistent with Holm's step-down decisions (module doc).

    Rows whose p-value is NaN (the test could not be computed) get the Bonferroni level
    1 - alpha/m. ``m`` counts only computable tests, as :func:`holm` does.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    p = np.asarray(p_values, dtype=float)
    ok = np.isfinite(p)
    m = int(ok.sum())
    levels = np.full(p.shape, 1 - alpha / max(m, 1))
    if m == 0:
        return levels
    idx = np.flatnonzero(ok)
    order = idx[np.argsort(p[ok], kind="stable")]
    stop = m + 1  # 1-based rank of the first non-rejected hypothesis (m + 1: all rejected)
    for rank, i in enumerate(order, start=1):
        if p[i] > alpha / (m - rank + 1):
            stop = rank
            break
    for rank, i in enumerate(order, start=1):
        levels[i] = 1 - alpha / (m - min(rank, stop) + 1)
    return levels


def decide(diff: float, p_adjusted: float, se: float, alpha: float = 0.05) -> str:
    """``better`` / ``worse`` when the adjusted p is below ``alpha`` (sign of ``diff``),
    ``undetermined`` when the test cannot be computed (SE 0 or missing, p NaN), else
    ``no detectable difference``."""
    if not (np.isfinite(se) and se > 0 and np.isfinite(p_adjusted) and np.isfinite(diff)):
        return "undetermined"
    if p_adjusted < alpha:
        return "better" if diff > 0 else "worse"
    return "no detectable difference"


def adjust_family(
    table: pd.DataFrame,
    alpha: float = 0.05,
    *,
    p_col: str = "p_value",
    diff_col: str = "diff",
    se_col: str = "se_paired",
    df_col: str | None = "n_shared",
) -> pd.DataFrame:
    """Holm over the rows of ``table`` (one declared family), with verdicts and matching CIs.

    Adds ``family_size`` (computable tests), ``p_holm``, ``ci_level`` (see
    :func:`holm_ci_levels`), ``ci_adj_low``/``ci_adj_high`` (``diff`` -/+ t quantile at that level
    with ``n - 1`` degrees of freedom from ``df_col``, or normal when ``df_col`` is None; same
    units as ``diff``) and ``verdict``. Returns a copy.
    """
    out = table.copy()
    if out.empty:
        for c in ("family_size", "p_holm", "ci_level", "ci_adj_low", "ci_adj_high", "verdict"):
            out[c] = pd.Series(dtype=float if c != "verdict" else object)
        return out
    p = out[p_col].to_numpy(float)
    out["family_size"] = int(np.isfinite(p).sum())
    out["p_holm"] = holm(p)
    out["ci_level"] = holm_ci_levels(p, alpha)
    se = out[se_col].to_numpy(float)
    d = out[diff_col].to_numpy(float)
    q = 0.5 + out["ci_level"].to_numpy(float) / 2
    if df_col:
        dof = out[df_col].to_numpy(float) - 1
        with np.errstate(invalid="ignore"):
            crit = np.where(dof >= 1, sps.t.ppf(q, np.maximum(dof, 1)), np.nan)
    else:
        crit = sps.norm.ppf(q)
    out["ci_adj_low"], out["ci_adj_high"] = d - crit * se, d + crit * se
    out["verdict"] = [
        decide(float(d), float(pa), float(se), alpha)
        for d, pa, se in zip(out[diff_col], out["p_holm"], out[se_col])
    ]
    return out
