"""Figures for the lock/fork test (see :mod:`ssdlib.lockfork`). Each returns a Figure, unsaved.

Inputs are the base and SSD score frames from :func:`ssdlib.lockfork.score_positions` and the
labels from :func:`ssdlib.lockfork.classify_positions` (by default classed by the mean entropy of
all compared models, so neither model is favoured), or the side-by-side table of
:func:`ssdlib.lockfork.lock_fork_compare` (SSD and control on the same classes).
Every title states the finding, computed from the data passed in. Entropies in nats.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssdlib.lockfork.analysis import pair_scores
from ssdlib.plots import apply_style

_MODEL_COLOURS = {"base": "C0", "SSD": "C1"}
_CLASS_COLOURS = {"lock": "C2", "middle": "C7", "fork": "C3"}


def _ecdf(ax, x: np.ndarray, label: str, colour: str) -> None:
    x = np.sort(np.asarray(x, float))
    if len(x):
        ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", label=label, color=colour)


def _mean_delta(m: pd.DataFrame, cls: str, col: str) -> float:
    sub = m[m["class"] == cls]
    return float((sub[f"ssd_{col}"] - sub[f"base_{col}"]).mean()) if len(sub) else float("nan")


def plot_entropy_by_class(
    base_scores: pd.DataFrame,
    ssd_scores: pd.DataFrame,
    labels: pd.Series,
    *,
    entropy_col: str = "entropy_topk",
    classes: tuple[str, ...] = ("lock", "fork"),
):
    """ECDF of next-token entropy, base vs SSD, one panel per class (same positions in both)."""
    apply_style()
    m = pair_scores(base_scores, ssd_scores, labels)
    fig, axes = plt.subplots(1, len(classes), figsize=(4.2 * len(classes), 3.8), squeeze=False)
    for ax, cls in zip(axes[0], classes):
        sub = m[m["class"] == cls]
        _ecdf(ax, sub[f"base_{entropy_col}"], "base", _MODEL_COLOURS["base"])
        _ecdf(ax, sub[f"ssd_{entropy_col}"], "SSD", _MODEL_COLOURS["SSD"])
        ax.set_title(f"{cls}s (n={len(sub):,}): mean Δ {_mean_delta(m, cls, entropy_col):+.3f}")
        ax.set_xlabel(f"{entropy_col} (nats)")
        ax.set_ylabel("share of positions ≤ x")
        ax.legend(loc="lower right")
    parts = [f"{c} entropy {_mean_delta(m, c, entropy_col):+.3f}" for c in classes]
    fig.suptitle("SSD vs base: mean change in " + ", ".join(parts) + " nats")
    fig.tight_layout()
    return fig


def plot_entropy_scatter(
    base_scores: pd.DataFrame,
    ssd_scores: pd.DataFrame,
    labels: pd.Series,
    *,
    entropy_col: str = "entropy_topk",
    max_points: int = 20_000,
    seed: int = 0,
):
    """Per position: base entropy (x) vs SSD entropy (y), coloured by class; below y=x = sharper.

    At most ``max_points`` positions are drawn (a uniform sample, so the picture is not a blob);
    the shares in the title use all positions.
    """
    apply_style()
    m = pair_scores(base_scores, ssd_scores, labels)
    sharper = m[f"ssd_{entropy_col}"] < m[f"base_{entropy_col}"]
    share = {c: float(sharper[m["class"] == c].mean()) for c in ("lock", "fork")}
    show = m.sample(min(max_points, len(m)), random_state=seed) if len(m) else m
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    for cls, colour in _CLASS_COLOURS.items():
        sub = show[show["class"] == cls]
        ax.scatter(
            sub[f"base_{entropy_col}"],
            sub[f"ssd_{entropy_col}"],
            s=4,
            alpha=0.35,
            color=colour,
            label=f"{cls} ({int((m['class'] == cls).sum()):,})",
            rasterized=True,
        )
    top = (
        float(np.nanmax(m[[f"base_{entropy_col}", f"ssd_{entropy_col}"]].to_numpy()))
        if len(m)
        else 1.0
    )
    ax.plot([0, top], [0, top], color="black", lw=0.8, ls="--", label="no change")
    ax.set_xlabel(f"base {entropy_col} (nats)")
    ax.set_ylabel(f"SSD {entropy_col} (nats)")
    ax.legend(loc="upper left", markerscale=3)
    ax.set_title(
        f"SSD is sharper at {share['lock']:.0%} of locks and "
        f"{share['fork']:.0%} of forks (below the diagonal)"
    )
    fig.tight_layout()
    return fig


def plot_lock_tail_mass(
    base_scores: pd.DataFrame, ssd_scores: pd.DataFrame, labels: pd.Series, *, floor: float = 1e-8
):
    """ECDF of the probability mass outside the top k at LOCK positions, base vs SSD (log x).

    Masses below ``floor`` (exactly 0 included) are drawn at ``floor`` so the log axis can
    show them; the title's means use the raw values.
    """
    apply_style()
    m = pair_scores(base_scores, ssd_scores, labels)
    sub = m[m["class"] == "lock"]
    k = base_scores.attrs.get("top_k", "k")
    b, s = sub["base_mass_outside_topk"], sub["ssd_mass_outside_topk"]
    fig, ax = plt.subplots()
    _ecdf(ax, np.clip(b, floor, None), "base", _MODEL_COLOURS["base"])
    _ecdf(ax, np.clip(s, floor, None), "SSD", _MODEL_COLOURS["SSD"])
    ax.set_xscale("log")
    ax.set_xlabel(f"probability mass outside the top {k} (lock positions, n={len(sub):,})")
    ax.set_ylabel("share of lock positions ≤ x")
    ax.legend(loc="lower right")
    if len(sub):
        verb = "cuts" if s.mean() < b.mean() else "does not cut"
        ax.set_title(
            f"SSD {verb} the tail at locks: mean mass outside top {k} "
            f"{b.mean():.3g} → {s.mean():.3g}"
        )
    else:
        ax.set_title("No lock positions to compare")
    fig.tight_layout()
    return fig


def plot_deltas_side_by_side(
    side_by_side: pd.DataFrame,
    *,
    contrast_verdict: str = "",
    classes: tuple[str, ...] = ("lock", "middle", "fork"),
):
    """Entropy change vs base (nats, cluster-bootstrap CI) per class, one bar per model (SSD,
    control) on the SAME classes (:func:`ssdlib.lockfork.lock_fork_compare`). The title states
    each model's reading at locks and forks; ``contrast_verdict`` (SSD minus control) goes below."""
    apply_style()
    models = list(dict.fromkeys(side_by_side["model"]))
    colours = {m: ("C1" if i == 0 else "0.45") for i, m in enumerate(models)}
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    width = 0.8 / max(len(models), 1)
    sbs = side_by_side.set_index(["model", "class"])
    for i, m in enumerate(models):
        d = np.array([sbs.loc[(m, c), "delta_entropy"] for c in classes], float)
        lo = np.array([sbs.loc[(m, c), "delta_entropy_lo"] for c in classes], float)
        hi = np.array([sbs.loc[(m, c), "delta_entropy_hi"] for c in classes], float)
        ax.bar(
            np.arange(len(classes)) + i * width,
            d,
            width,
            color=colours[m],
            label=m,
            yerr=np.nan_to_num(np.clip([d - lo, hi - d], 0, None)),
            capsize=3,
        )
    ax.axhline(0, color="black", lw=0.8)
    n = [int(sbs.loc[(models[0], c), "n_positions"]) for c in classes]
    ax.set_xticks(
        np.arange(len(classes)) + width * (len(models) - 1) / 2,
        [f"{c}s\n({k:,} positions)" for c, k in zip(classes, n)],
    )
    ax.set_ylabel("entropy change vs base, nats (95% CI)")
    ax.legend(fontsize=8, loc="best")
    parts = [
        f"{m}: locks {sbs.loc[(m, 'lock'), 'reading']}, forks {sbs.loc[(m, 'fork'), 'reading']}"
        for m in models
    ]
    fig.suptitle("; ".join(parts), fontsize=10, fontweight="bold")
    if contrast_verdict:
        ax.set_title(contrast_verdict, fontsize=7)
    fig.tight_layout()
    return fig
