"""Difficulty on one scale: bins by the BASE model's own pass rate in 03_baselines.

Every source has this difficulty (native ones do not: Omni-MATH has 0-10, MATH levels 1-5, the
rest nothing), so breakdowns and "pass@k on the hardest prompts" use it. The pass rate of a
prompt is the base model's mean correctness over its 03 samples, pooled over the 03 decodes
(several decodes and samples per prompt give a finer, less noisy rate than one decode).

Regression to the mean again: a model whose OWN samples were used to bin the prompts looks
worse than it is in the "hard" bins and better in the "easy" ones (a prompt lands in "never
solved" partly because those very samples happened to fail). So the decodes a breakdown
compares (the 03 baseline) are excluded from the rate with ``exclude_config_ids``; the models of
06 (base at eval_decode, checkpoints, control) are fresh samples and never in it.

Omni-MATH's native 0-10 difficulty is shown only within Omni (:func:`native_difficulty_within`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ssdlib.stats.metrics import pass_at_k_curve, summarize

# Bin edges on the base pass rate (fraction); right-closed, 0 alone is "never solved".
PASS_RATE_EDGES: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
BIN_COLUMN = "base_pass_bin"


def base_pass_rates(
    graded03: pd.DataFrame, model_id: str, *, exclude_config_ids: Sequence[str] = ()
) -> pd.DataFrame:
    """Per prompt: the base model's 03 samples (``n_samples``), correct ones, and ``pass_rate``.

    Pools every 03 decode of ``model_id`` except ``exclude_config_ids``; ungraded rows (NaN
    ``correct``) are left out. Raises when nothing is left.
    """
    sel = graded03[
        (graded03["model_id"] == model_id) & ~graded03["config_id"].isin(list(exclude_config_ids))
    ]
    sel = sel[sel["correct"].notna()]
    if sel.empty:
        raise ValueError(
            f"03_graded has no graded samples of {model_id} outside {list(exclude_config_ids)}"
        )
    g = sel.assign(correct=sel["correct"].astype(float)).groupby("prompt_id")["correct"]
    out = pd.DataFrame({"n_samples": g.size(), "n_correct": g.sum().astype(int)})
    out["pass_rate"] = out["n_correct"] / out["n_samples"]
    out.attrs["configs"] = sorted(sel["config_id"].unique())
    return out.reset_index()


def bin_labels(edges: Sequence[float] = PASS_RATE_EDGES) -> list[str]:
    """``["0 (never)", "0-25%", "25-50%", ...]``: hardest first; the labels also SORT hardest first
    as plain strings, so a table or an axis sorted by label keeps the difficulty order."""
    labels = ["0 (never)"]
    labels += [f"{a * 100:.0f}-{b * 100:.0f}%" for a, b in zip(edges[:-1], edges[1:])]
    if sorted(labels) != labels:
        raise ValueError(f"bin labels {labels} do not sort in difficulty order")
    return labels


def pass_rate_bins(rates: pd.DataFrame, edges: Sequence[float] = PASS_RATE_EDGES) -> pd.Series:
    """``prompt_id -> bin`` (ordered categorical, hardest first) from :func:`base_pass_rates`."""
    labels = bin_labels(edges)
    r = rates.set_index("prompt_id")["pass_rate"].to_numpy(float)
    idx = np.where(r <= edges[0], 0, np.searchsorted(np.asarray(edges), r, side="left"))
    cat = pd.Categorical.from_codes(
        np.clip(idx, 0, len(labels) - 1), categories=labels, ordered=True
    )
    return pd.Series(cat, index=rates["prompt_id"].to_numpy(), name=BIN_COLUMN)


def with_bins(samples: pd.DataFrame, bins: pd.Series) -> pd.DataFrame:
    """``samples`` with the :data:`BIN_COLUMN` of each prompt; prompts 03 never sampled are dropped
    (and counted in ``attrs["n_unbinned_prompts"]``)."""
    out = samples.assign(**{BIN_COLUMN: samples["prompt_id"].map(bins)})
    missing = out[BIN_COLUMN].isna()
    n_missing = int(out.loc[missing, "prompt_id"].nunique())
    out = out[~missing].copy()
    out[BIN_COLUMN] = pd.Categorical(out[BIN_COLUMN], categories=bins.cat.categories, ordered=True)
    out.attrs["n_unbinned_prompts"] = n_missing
    return out


def accuracy_by_bin(samples: pd.DataFrame, bins: pd.Series, order: Sequence[str]) -> pd.DataFrame:
    """Accuracy (per-prompt SE, 95% CI) per (model, base-pass-rate bin), models in ``order``,
    bins hardest first. Bins are fixed strata: plain per-prompt SEs within each."""
    s = with_bins(samples, bins)
    s[BIN_COLUMN] = s[BIN_COLUMN].astype(str)
    out = summarize(s, by=["model", BIN_COLUMN])
    cats = list(bins.cat.categories)
    out["_m"] = out["model"].map({m: i for i, m in enumerate(order)})
    out["_b"] = out[BIN_COLUMN].map({b: i for i, b in enumerate(cats)})
    return out.sort_values(["_m", "_b"]).drop(columns=["_m", "_b"]).reset_index(drop=True)


def native_difficulty_within(
    samples: pd.DataFrame, source: str, order: Sequence[str]
) -> pd.DataFrame:
    """Accuracy per (model, native ``difficulty``) within ONE source (e.g. Omni-MATH's 0-10):
    native scales differ between sources, so they are never put on one axis. Empty when the
    source is absent or has no native difficulty."""
    sub = samples[(samples["source"] == source) & samples["difficulty"].notna()]
    if sub.empty:
        return pd.DataFrame()
    out = summarize(sub, by=["model", "difficulty"])
    out["_m"] = out["model"].map({m: i for i, m in enumerate(order)})
    return out.sort_values(["_m", "difficulty"]).drop(columns="_m").reset_index(drop=True)


def pass_at_k_by_bin(
    samples: pd.DataFrame, bins: pd.Series, *, k_max: int, hardest: Sequence[str] | None = None
) -> pd.DataFrame:
    """Unbiased pass@k, k = 1..k_max, per model: over ``all`` prompts and over the ``hardest`` bins.

    ``hardest`` defaults to the hardest bin that holds prompts. Tidy: ``model, subset, k,
    pass_at_k, se`` (per-prompt SE), ``n_prompts``. Needs ``k_max`` samples on every prompt.
    """
    s = with_bins(samples, bins)
    if hardest is None:
        present = [b for b in bins.cat.categories if (s[BIN_COLUMN] == b).any()]
        hardest = present[:1]
    frames = [pass_at_k_curve(s, by=["model"], k_max=k_max).assign(subset="all prompts")]
    hard = s[s[BIN_COLUMN].isin(list(hardest))]
    if len(hard):
        label = "hardest: base pass rate " + " or ".join(hardest)
        frames.append(pass_at_k_curve(hard, by=["model"], k_max=k_max).assign(subset=label))
    out = pd.concat(frames, ignore_index=True)
    return out[["model", "subset", "k", "pass_at_k", "se", "n_prompts"]]
