"""Figures of an SSD training run: the training curve, and the length distribution of the SSD set.

Each function returns a Matplotlib Figure whose title states what happened; the caller saves it
with ``ssdlib.plots.save_figure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssdlib.plots import apply_style


def _train_rows(log: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Rows of a training log that carry a loss, one per step (a resumed step keeps its re-run)."""
    if not isinstance(log, pd.DataFrame):
        from ssdlib.train.checkpoints import read_log

        log = read_log(log)
    if "loss" not in log.columns:
        raise ValueError("the log has no loss column: was anything trained?")
    rows = log[log["loss"].notna()].drop_duplicates("step", keep="last").sort_values("step")
    if rows.empty:
        raise ValueError("the log has no training steps")
    return rows


def training_curve_figure(
    log: pd.DataFrame | str | Path, *, smooth: int = 10, title: str | None = None
):
    """Loss (raw and running mean over ``smooth`` logged points) and learning rate vs optimizer step.

    ``log`` is ``ssdlib.train.read_log``'s DataFrame, a run folder, or a ``train_log.jsonl`` path.
    Resumes (a new ``session``) are marked by dotted vertical lines. The default title states the
    change of the smoothed loss, e.g. "Loss fell from 0.82 to 0.61 over 300 steps".
    """
    apply_style()
    rows = _train_rows(log)
    step = rows["step"].to_numpy()
    loss = rows["loss"].to_numpy(dtype=float)
    smoothed = pd.Series(loss).rolling(max(1, smooth), min_periods=1).mean().to_numpy()

    fig, (ax_loss, ax_lr) = plt.subplots(
        2, 1, sharex=True, figsize=(7.0, 5.0), height_ratios=(3, 1.3)
    )
    ax_loss.plot(step, loss, alpha=0.35, lw=1, label="loss (per log)")
    ax_loss.plot(step, smoothed, lw=2, label=f"running mean ({smooth} logs)")
    ax_loss.set_ylabel("loss (nats / completion token)")
    ax_loss.legend(loc="upper right", fontsize=8)
    if "learning_rate" in rows:
        ax_lr.plot(step, rows["learning_rate"].to_numpy(dtype=float), color="C2")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("optimizer step")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    if "session" in rows:
        for s in rows.loc[rows["session"].diff() > 0, "step"]:
            for ax in (ax_loss, ax_lr):
                ax.axvline(s, ls=":", color="grey")

    if title is None:
        first, last = smoothed[0], smoothed[-1]
        verb = "fell" if last < first else "rose" if last > first else "stayed"
        title = f"Loss {verb} from {first:.3g} to {last:.3g} over {int(step[-1])} steps"
    ax_loss.set_title(title)
    fig.tight_layout()
    return fig


def length_distribution_figure(
    lengths: Sequence[int] | np.ndarray,
    max_length: int,
    *,
    bins: int = 50,
    title: str | None = None,
):
    """Histogram of SSD example lengths (prompt + completion tokens), with ``max_length`` marked.

    Pass ALL samples' lengths (``report["all_total_tokens"]`` from ``build_ssd_dataset``; zeros,
    the never-tokenized empty responses, are left out) so that the dropped over-long tail shows.
    The default title states the share over the limit.
    """
    apply_style()
    arr = np.asarray(lengths, dtype=float)
    arr = arr[arr > 0]
    if arr.size == 0:
        raise ValueError("no lengths to plot")
    over = arr > max_length
    fig, ax = plt.subplots()
    edges = np.histogram_bin_edges(arr, bins=bins)
    ax.hist(arr[~over], bins=edges, label=f"kept (<= {max_length:,})")
    if over.any():
        ax.hist(arr[over], bins=edges, color="C3", label="dropped (too long)")
    ax.axvline(max_length, color="k", ls="--", lw=1.2, label=f"max_length = {max_length:,}")
    ax.set_xlabel("tokens per example (prompt + completion)")
    ax.set_ylabel("samples")
    ax.legend(fontsize=8)
    if title is None:
        title = (
            f"{over.mean():.1%} of {arr.size:,} samples exceed {max_length:,} tokens "
            f"(median {np.median(arr):,.0f})"
        )
    ax.set_title(title)
    fig.tight_layout()
    return fig


_CATEGORY_COLOURS = {"finished": "C0", "length-stopped": "C3", "dropped": "0.6"}


def token_weighted_length_figure(report: dict, *, bins: int = 30, max_tokens: int | None = None):
    """Completion lengths of the SSD draw weighted by their TOKENS, stacked by category.

    ``report`` is :func:`ssdlib.train.ssd_set.build_ssd_dataset`'s report (``all_completion_tokens`` and
    ``all_category``). The bar height is the share of all drawn completion tokens that sit in
    samples of that length, so under a per-token loss it is the share of the training signal;
    a long length-stopped tail that is a few samples but most tokens shows as a tall red bar at
    the right. ``max_tokens`` (the generation cap) is drawn as a dashed line. The title states
    the length-stopped share of samples and of trained tokens.
    """
    from ssdlib.train.ssd_set import CATEGORIES, token_shares

    apply_style()
    tok = np.asarray(report["all_completion_tokens"], dtype=float)
    cat = np.asarray(report["all_category"], dtype=object)
    total = tok.sum()
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    if total > 0:
        edges = np.histogram_bin_edges(tok[tok > 0], bins=bins)
        stack = [
            np.histogram(tok[cat == c], bins=edges, weights=tok[cat == c])[0] / total
            for c in CATEGORIES
        ]
        ax.hist(
            [tok[cat == c] for c in CATEGORIES],
            bins=edges,
            stacked=True,
            weights=[tok[cat == c] / total * 100 for c in CATEGORIES],
            color=[_CATEGORY_COLOURS[c] for c in CATEGORIES],
            label=[
                f"{c} ({float(s.sum()):.0%} of drawn tokens)" for c, s in zip(CATEGORIES, stack)
            ],
        )
    if max_tokens:
        ax.axvline(max_tokens, ls="--", color="black", lw=1, label=f"generation cap {max_tokens:,}")
    ax.set_xlabel("completion tokens per sample")
    ax.set_ylabel("% of all drawn completion tokens")
    ax.legend(fontsize=8, loc="upper left")
    sh = token_shares(report).set_index("category")
    ls = sh.loc["length-stopped"]
    ax.set_title(
        f"Length-stopped traces are {ls['share_of_samples']:.0%} of samples but "
        f"{0.0 if np.isnan(ls['share_of_training_tokens']) else ls['share_of_training_tokens']:.0%}"
        " of trained tokens",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
