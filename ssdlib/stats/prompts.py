"""Validate a graded samples table and collapse it to one row per prompt.

Every statistic in this package starts from per-prompt means: prompts, not samples, are the
independent units (Miller 2024), so n*K samples must never be pooled as if independent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ssdlib.schema import require_columns

# Columns that identify *which* model/decode produced a sample. Pooling rows that differ in
# them would silently average two systems, so every group must hold exactly one value.
_SYSTEM_COLUMNS: tuple[str, ...] = ("config_id", "model_id")


def as_list(by: str | Sequence[str] | None) -> list[str]:
    """Normalise a ``by`` argument (None, one column name, or several) to a list."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def score_values(samples: pd.DataFrame, score: str) -> np.ndarray:
    """Return ``samples[score]`` as float64 (bools become 0/1); refuse missing values.

    Missing scores (ungraded samples) are an error rather than dropped: dropping them would
    bias accuracy whenever grading fails more often on some kinds of response.
    """
    values = samples[score]
    try:
        values = values.astype("Float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"score column {score!r} is not numeric or boolean: {exc}") from exc
    n_missing = int(values.isna().sum())
    if n_missing:
        raise ValueError(
            f"score column {score!r} has {n_missing} missing value(s); grade or drop them first"
        )
    return values.to_numpy(dtype=float)


def validate_samples(
    samples: pd.DataFrame,
    score: str,
    by: Sequence[str] = (),
    keep: Sequence[str] = (),
) -> None:
    """Check the columns and keys that the per-prompt aggregation relies on.

    Raises ValueError when a column is missing, when the table is empty, when one group
    mixes several ``config_id``/``model_id`` values (pass ``by="config_id"`` or filter), or
    when a sample appears twice (which would inflate K).
    """
    by, keep = list(by), list(keep)
    require_columns(samples, ["prompt_id", score, *by, *keep], "samples")
    if len(samples) == 0:
        raise ValueError("samples is empty")
    for col in _SYSTEM_COLUMNS:
        if col in samples.columns and col not in by:
            n_values = (
                samples.groupby(by, observed=True)[col].nunique() if by else samples[col].nunique()
            )
            if np.any(np.asarray(n_values) > 1):
                raise ValueError(
                    f"samples mix several {col!r} values within one group; "
                    f"pass by={col!r} (or filter to one) before computing statistics"
                )
    if "sample_idx" in samples.columns:
        key = [
            *by,
            *[c for c in _SYSTEM_COLUMNS if c in samples.columns and c not in by],
            "prompt_id",
            "sample_idx",
        ]
        dup = samples.duplicated(subset=key)
        if dup.any():
            first = samples.loc[dup, key].iloc[0].to_dict()
            raise ValueError(f"samples has {int(dup.sum())} duplicated sample row(s), e.g. {first}")


def prompt_means(
    samples: pd.DataFrame,
    score: str = "correct",
    by: str | Sequence[str] | None = None,
    keep: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Collapse a samples table to one row per (``by`` group, prompt).

    Parameters
    ----------
    samples : one row per sample with ``prompt_id`` and the ``score`` column.
    score : per-sample score column (bool correctness -> 0/1, or any real value).
    by : optional grouping column(s), e.g. ``"config_id"`` or ``"source"``.
    keep : prompt-level column(s) to carry along (e.g. ``"source"``); each must be constant
        within a prompt, else ValueError.

    Returns
    -------
    DataFrame with columns ``[*by, "prompt_id", *keep, "mean", "k", "var"]``: the prompt's
    mean score (a fraction in [0, 1] for correctness), its number of samples ``k``, and the
    within-prompt sample variance with the k-1 denominator (NaN when ``k == 1``).
    """
    by_cols, keep_cols = as_list(by), [c for c in as_list(keep) if c not in as_list(by)]
    validate_samples(samples, score, by_cols, keep_cols)
    keys = [*by_cols, "prompt_id"]
    frame = samples[keys + keep_cols].copy()
    frame["_y"] = score_values(samples, score)
    grouped = frame.groupby(keys, sort=True, observed=True, dropna=False)
    out = grouped["_y"].agg(mean="mean", k="size", var="var").reset_index()
    if keep_cols:
        n_values = grouped[keep_cols].nunique(dropna=False)
        bad = [c for c in keep_cols if (n_values[c] > 1).any()]
        if bad:
            raise ValueError(f"column {bad[0]!r} is not constant within a prompt")
        firsts = grouped[keep_cols].first().reset_index()
        out = firsts.merge(out, on=keys, how="right", validate="one_to_one")
    out["k"] = out["k"].astype(int)
    return out[[*keys, *keep_cols, "mean", "k", "var"]]
