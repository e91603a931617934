"""Paired comparison of two configs evaluated on the same prompts (Miller 2024, section 4).

Per-prompt differences cancel prompt difficulty shared by both configs, so the paired SE,
sqrt(SE_A^2 + SE_B^2 - 2 Cov(s_A, s_B)/n), is smaller than the unpaired one whenever the
two configs find the same prompts hard (positive correlation of prompt means).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from ssdlib.stats.prompts import prompt_means
from ssdlib.stats.se import critical_value

TESTS = ("z", "t")


def _p_value(stat: float, test: str, df: int) -> float:
    """Two-sided p-value of a z (normal) or t (Student, ``df``) statistic."""
    if np.isnan(stat):
        return np.nan
    return float(2 * (sps.norm.sf(abs(stat)) if test == "z" else sps.t.sf(abs(stat), df)))


def paired_comparison(
    a: pd.DataFrame,
    b: pd.DataFrame,
    score: str = "correct",
    level: float = 0.95,
    test: str = "t",
) -> pd.Series:
    """Compare config ``b`` against config ``a`` on the prompts both were evaluated on.

    ``a`` and ``b`` are samples tables, each of a single config (any K, possibly unbalanced).
    Prompts present in only one table are dropped (counted in ``n_dropped_a``/``n_dropped_b``).

    Returns a Series with: ``n`` (shared prompts), ``n_dropped_a``, ``n_dropped_b``,
    ``mean_a``, ``mean_b`` (on shared prompts; fractions), ``diff`` (b - a, a fraction:
    x100 for p.p.), ``se_paired`` (std(d, ddof=1)/sqrt(n) of per-prompt differences d),
    ``ci_low``, ``ci_high``, ``stat`` (diff/se_paired), ``p_value`` (two-sided),
    ``test`` ("t": Student with n-1 df, the default, as :func:`scipy.stats.ttest_rel`; "z":
    normal, which is anti-conservative at small n: 4 prompts with 3 flips give p = 0.003 under z,
    0.058 under t), ``level``, ``corr`` (Pearson
    correlation of prompt means), ``se_a``, ``se_b``, ``se_unpaired`` (sqrt(se_a^2 + se_b^2),
    what ignoring the pairing would give).
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    pa = prompt_means(a, score=score).set_index("prompt_id")["mean"]
    pb = prompt_means(b, score=score).set_index("prompt_id")["mean"]
    shared = pa.index.intersection(pb.index).sort_values()
    n = len(shared)
    if n < 2:
        raise ValueError(f"need at least 2 prompts evaluated by both configs, got {n}")
    xa, xb = pa.loc[shared].to_numpy(), pb.loc[shared].to_numpy()
    d = xb - xa
    diff = float(d.mean())
    se_paired = float(d.std(ddof=1) / np.sqrt(n))
    se_a, se_b = float(xa.std(ddof=1) / np.sqrt(n)), float(xb.std(ddof=1) / np.sqrt(n))
    df = n - 1
    crit = critical_value(level, None if test == "z" else df)
    # A zero SE (identical per-prompt means) leaves the statistic undefined, not infinite.
    stat = diff / se_paired if se_paired > 0 else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(xa, xb)[0, 1]) if xa.std() > 0 and xb.std() > 0 else np.nan
    return pd.Series(
        {
            "n": n,
            "n_dropped_a": int(len(pa) - n),
            "n_dropped_b": int(len(pb) - n),
            "mean_a": float(xa.mean()),
            "mean_b": float(xb.mean()),
            "diff": diff,
            "se_paired": se_paired,
            "ci_low": diff - crit * se_paired,
            "ci_high": diff + crit * se_paired,
            "stat": stat,
            "p_value": _p_value(stat, test, df),
            "test": test,
            "level": level,
            "corr": corr,
            "se_a": se_a,
            "se_b": se_b,
            "se_unpaired": float(np.hypot(se_a, se_b)),
        },
        dtype=object,
    )


def paired_table(
    samples: pd.DataFrame,
    baseline_config,
    by: str = "config_id",
    score: str = "correct",
    level: float = 0.95,
    test: str = "t",
    adjust: str | None = "holm",
) -> pd.DataFrame:
    """:func:`paired_comparison` of every ``by`` value against ``baseline_config``.

    One row per non-baseline config (index named ``by``), sorted by ``diff`` descending.
    With ``adjust`` (a statsmodels ``multipletests`` method, default Holm) a ``p_adjusted``
    column corrects for testing several configs against the same baseline.
    """
    if by not in samples.columns:
        raise ValueError(f"samples is missing required column {by!r}")
    configs = pd.unique(samples[by])
    if baseline_config not in set(configs):
        raise ValueError(
            f"baseline {baseline_config!r} not found in column {by!r} (has {list(configs)})"
        )
    base = samples[samples[by] == baseline_config]
    rows = {
        c: paired_comparison(base, samples[samples[by] == c], score, level, test)
        for c in configs
        if c != baseline_config
    }
    if not rows:
        raise ValueError("no config other than the baseline to compare")
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = by
    table = table.infer_objects()
    if adjust is not None:
        from statsmodels.stats.multitest import multipletests

        p = table["p_value"].to_numpy(dtype=float)
        ok = ~np.isnan(p)
        adjusted = np.full_like(p, np.nan)
        if ok.any():
            adjusted[ok] = multipletests(p[ok], method=adjust)[1]
        table["p_adjusted"] = adjusted
    return table.sort_values("diff", ascending=False)
