"""Figures for the lock/fork test (see :mod:`ssdlib.lockfork`). Each returns a Figure, unsaved.

Inputs are the base and SSD score frames from :func:`ssdlib.lockfork.score_positions` and the
labels from :func:`ssdlib.lockfork.classify_positions` (classes fixed under the BASE model).
Every title states the finding, computed from the data passed in. Entropies in nats.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssdlib.lockfork import pair_scores
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


def plot_entropy_by_class(base_scores: pd.DataFrame, ssd_scores: pd.DataFrame,
                          labels: pd.Series, *, entropy_col: str = "entropy_topk",
                          classes: tuple[str, ...] = ("lock", "fork")):
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


def plot_entropy_scatter(base_scores: pd.DataFrame, ssd_scores: pd.DataFrame,
                         labels: pd.Series, *, entropy_col: str = "entropy_topk",
                         max_points: int = 20_000, seed: int = 0):
    """Per position: base entropy (x) vs SSD entropy (y), coloured by class; below y=x = sharper.

    At most ``max_points`` positions are drawn (a uniform sample, so the picture is not a blob);
    the shares in the title use all positions.
    """
    apply_style()
    m = pair_scores(base_scores, ssd_scores, labels)
    sharper = (m[f"ssd_{entropy_col}"] < m[f"base_{entropy_col}"])
    share = {c: float(sharper[m["class"] == c].mean()) for c in ("lock", "fork")}
    show = m.sample(min(max_points, len(m)), random_state=seed) if len(m) else m
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    for cls, colour in _CLASS_COLOURS.items():
        sub = show[show["class"] == cls]
        ax.scatter(sub[f"base_{entropy_col}"], sub[f"ssd_{entropy_col}"], s=4, alpha=0.35,
                   color=colour, label=f"{cls} ({int((m['class'] == cls).sum()):,})",
                   rasterized=True)
    top = float(np.nanmax(m[[f"base_{entropy_col}", f"ssd_{entropy_col}"]].to_numpy())) if len(m) else 1.0
    ax.plot([0, top], [0, top], color="black", lw=0.8, ls="--", label="no change")
    ax.set_xlabel(f"base {entropy_col} (nats)")
    ax.set_ylabel(f"SSD {entropy_col} (nats)")
    ax.legend(loc="upper left", markerscale=3)
    ax.set_title(f"SSD is sharper at {share['lock']:.0%} of locks and "
                 f"{share['fork']:.0%} of forks (below the diagonal)")
    fig.tight_layout()
    return fig


def plot_lock_tail_mass(base_scores: pd.DataFrame, ssd_scores: pd.DataFrame,
                        labels: pd.Series, *, floor: float = 1e-8):
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
        ax.set_title(f"SSD {verb} the tail at locks: mean mass outside top {k} "
                     f"{b.mean():.3g} → {s.mean():.3g}")
    else:
        ax.set_title("No lock positions to compare")
    fig.tight_layout()
    return fig
