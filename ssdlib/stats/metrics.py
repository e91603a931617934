"""Per-config eval metrics from a graded samples table: accuracy with per-prompt SE, the
instruction-following rates, token statistics and unbiased pass@k.

The prompt is the unit of analysis (Miller 2024, arXiv 2411.00640): every rate is first
averaged within each prompt, then across prompts, and every SE is
``std(prompt means, ddof=1) / sqrt(n_prompts)``. Pooling n*K samples as if independent
would understate the SE whenever prompts differ in difficulty (they do: >85% of the
variance is between prompts in this study).

All rates and accuracies are fractions in [0, 1]; token counts are in tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from ssdlib.schema import require_columns

# 95% two-sided normal quantile (1.95996...), Miller's CLT interval. With hundreds of prompts the
# t quantile agrees to the third decimal; with few (a per-source breakdown of 30 prompts at 10%
# accuracy) the normal interval covers ~0.8, so CIs use t with n_prompts - 1 degrees of freedom.
Z95 = float(sps.norm.ppf(0.975))


def t95(n_prompts: int) -> float:
    """Two-sided 95% Student t quantile with ``n_prompts - 1`` df (NaN below 2 prompts)."""
    return float(sps.t.ppf(0.975, n_prompts - 1)) if n_prompts >= 2 else float("nan")


_RATE_COLUMNS = {
    "think_closed": "think_close_rate",
    "boxed": "boxed_rate",
    "length_stop": "length_stop_rate",
}


def pass_at_k(n, c, k: int):
    """Unbiased pass@k of one prompt: ``1 - C(n-c, k) / C(n, k)`` (Chen et al. 2021).

    ``n`` samples of which ``c`` correct; the probability that at least one of ``k`` samples
    drawn without replacement is correct. Computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)``,
    which never forms the huge binomials. Vectorised over arrays ``n`` and ``c``.
    Raises ValueError unless ``0 <= c <= n`` and ``1 <= k <= n``.
    """
    n_arr, c_arr = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError("need 0 <= c <= n")
    if k < 1 or np.any(k > n_arr):
        raise ValueError(f"need 1 <= k <= n, got k={k}")
    n_b, c_b = np.broadcast_arrays(n_arr, c_arr)
    out = np.empty(n_b.shape, dtype=float)
    for idx in np.ndindex(n_b.shape):
        ni, ci = int(n_b[idx]), int(c_b[idx])
        if ni - ci < k:  # every k-subset holds a correct sample
            out[idx] = 1.0
        else:
            i = np.arange(ni - ci + 1, ni + 1, dtype=float)
            out[idx] = 1.0 - float(np.prod(1.0 - k / i))
    return float(out) if out.ndim == 0 else out


def _se(values: np.ndarray) -> float:
    """Per-prompt SE: std(values, ddof=1) / sqrt(n); NaN with fewer than 2 prompts."""
    values = values[~np.isnan(values)]
    if values.size < 2:
        return float("nan")
    return float(np.std(values, ddof=1) / np.sqrt(values.size))


def _as_float(series: pd.Series, name: str) -> pd.Series:
    if series.isna().any():
        raise ValueError(f"column {name!r} has missing values; grade all samples first")
    return series.astype(float)


def _per_prompt(graded: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One row per (group, prompt): n, c (correct count) and the prompt-level means."""
    require_columns(graded, ["prompt_id", "correct", *by], "graded samples")
    if len(graded) == 0:
        raise ValueError("graded samples is empty")
    if "sample_idx" in graded.columns:
        key = [*by, *[c for c in ("config_id", "model_id") if c in graded.columns and c not in by]]
        dup = graded.duplicated(subset=[*key, "prompt_id", "sample_idx"])
        if dup.any():
            raise ValueError(
                f"{int(dup.sum())} duplicated sample row(s) (same prompt_id and sample_idx)"
            )
    frame = graded[[*by, "prompt_id"]].copy()
    frame["_n"] = 1
    frame["_c"] = _as_float(graded["correct"], "correct")
    for col in [*_RATE_COLUMNS, "n_tokens", "timed_out"]:
        if col in graded.columns:
            frame[col] = graded[col].astype(float)
    agg = {"_n": "sum", "_c": "sum"}
    agg.update({col: "mean" for col in frame.columns if col in _RATE_COLUMNS or col == "n_tokens"})
    if "timed_out" in frame.columns:
        agg["timed_out"] = "sum"
    per = (
        frame.groupby([*by, "prompt_id"], sort=True, observed=True, dropna=False)
        .agg(agg)
        .reset_index()
    )
    per["_n"] = per["_n"].astype(int)
    per["accuracy"] = per["_c"] / per["_n"]
    return per


def _groups(frame: pd.DataFrame, by: list[str]):
    """(key dict, sub-frame) per group; one group holding everything when ``by`` is empty."""
    if not by:
        yield {}, frame
        return
    for key, sub in frame.groupby(by, sort=True, observed=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key, strict=True)), sub


def summarize(
    graded: pd.DataFrame,
    by: Sequence[str] = ("config_id",),
    *,
    k_values: Sequence[int] = (1,),
) -> pd.DataFrame:
    """One row per ``by`` group of a graded samples table.

    Columns: ``n_prompts``, ``n_samples``, ``samples_per_prompt`` (mean; k below it may
    still be NaN if some prompt has fewer), ``accuracy`` (mean over prompts of the
    per-prompt fraction correct), ``se`` (per-prompt SE, NaN with one prompt),
    ``ci_low``/``ci_high`` (95% interval ``accuracy -/+ t_{0.975, n_prompts-1} se``),
    ``think_close_rate``, ``boxed_rate``, ``length_stop_rate`` (each averaged per prompt
    first), ``mean_tokens`` (per prompt first) and ``p95_tokens`` (over samples) when
    ``n_tokens`` is present, ``timed_out`` (count of samples), and for each k in
    ``k_values``: ``pass@k`` (unbiased, averaged over prompts) and ``pass@k_se`` (per-prompt
    SE). pass@k is NaN for a group where some prompt has fewer than k samples, rather than
    silently dropping the prompts that do.
    """
    by = [by] if isinstance(by, str) else list(by)
    per = _per_prompt(graded, by)
    rows = []
    for key, sub in _groups(per, by):
        acc = sub["accuracy"].to_numpy()
        se = _se(acc)
        row = dict(key)
        row.update(
            n_prompts=len(sub),
            n_samples=int(sub["_n"].sum()),
            samples_per_prompt=float(sub["_n"].mean()),
            accuracy=float(acc.mean()),
            se=se,
            ci_low=float(acc.mean() - t95(len(sub)) * se),
            ci_high=float(acc.mean() + t95(len(sub)) * se),
        )
        for col, name in _RATE_COLUMNS.items():
            row[name] = float(sub[col].mean()) if col in sub else float("nan")
        row["mean_tokens"] = float(sub["n_tokens"].mean()) if "n_tokens" in sub else float("nan")
        row["timed_out"] = int(sub["timed_out"].sum()) if "timed_out" in sub else 0
        for k in k_values:
            row[f"pass@{k}"], row[f"pass@{k}_se"] = _pass_at_k_group(sub, k)
        rows.append(row)
    out = pd.DataFrame(rows)
    if "n_tokens" in graded.columns:
        p95 = _p95_tokens(graded, by)
        out = (
            out.merge(p95, on=by, how="left")
            if by
            else out.assign(p95_tokens=p95["p95_tokens"].iloc[0])
        )
    else:
        out["p95_tokens"] = float("nan")
    order = [
        *by,
        "n_prompts",
        "n_samples",
        "samples_per_prompt",
        "accuracy",
        "se",
        "ci_low",
        "ci_high",
        "think_close_rate",
        "boxed_rate",
        "length_stop_rate",
        "mean_tokens",
        "p95_tokens",
        "timed_out",
    ]
    return out[order + [c for c in out.columns if c not in order]]


def _p95_tokens(graded: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    tokens = graded[[*by, "n_tokens"]].copy()
    tokens["n_tokens"] = tokens["n_tokens"].astype(float)
    if not by:
        return pd.DataFrame({"p95_tokens": [float(tokens["n_tokens"].quantile(0.95))]})
    grouped = tokens.groupby(by, sort=True, observed=True, dropna=False)["n_tokens"]
    return grouped.quantile(0.95).rename("p95_tokens").reset_index()


def _pass_at_k_group(per: pd.DataFrame, k: int) -> tuple[float, float]:
    """(mean over prompts of pass@k, per-prompt SE) for one group; NaNs if any n < k."""
    n, c = per["_n"].to_numpy(), per["_c"].to_numpy().round().astype(int)
    if k < 1 or np.any(n < k):
        return float("nan"), float("nan")
    values = np.atleast_1d(pass_at_k(n, c, k))
    return float(values.mean()), _se(values)


def pass_at_k_curve(
    graded: pd.DataFrame, by: Sequence[str] = ("config_id",), k_max: int | None = None
) -> pd.DataFrame:
    """Tidy pass@k for k = 1..k_max per ``by`` group, for plotting.

    Columns: ``*by, k, pass_at_k, se, n_prompts``. ``k_max`` defaults to the smallest
    number of samples any prompt has (in the whole table); k values some prompt of a group
    cannot reach give NaN.
    """
    by = [by] if isinstance(by, str) else list(by)
    per = _per_prompt(graded, by)
    k_max = int(per["_n"].min()) if k_max is None else int(k_max)
    if k_max < 1:
        raise ValueError(f"k_max must be >= 1, got {k_max}")
    rows = []
    for key, sub in _groups(per, by):
        for k in range(1, k_max + 1):
            value, se = _pass_at_k_group(sub, k)
            rows.append({**key, "k": k, "pass_at_k": value, "se": se, "n_prompts": len(sub)})
    return pd.DataFrame(rows, columns=[*by, "k", "pass_at_k", "se", "n_prompts"])
