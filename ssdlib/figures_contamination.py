"""Figures for the contamination step (train vs val near-duplicates).

Each function returns a matplotlib Figure (or a table) whose title states the finding
computed from its inputs; nothing is saved here (use :func:`ssdlib.plots.save_figure`).
Similarities are word-n-gram Jaccard values in [0, 1]; inputs are the frames returned by
:func:`ssdlib.contamination.best_matches` / :func:`ssdlib.contamination.find_duplicates`.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssdlib.plots import apply_style


def plot_best_match_hist(
    best: pd.DataFrame,
    *,
    threshold_same_answer: float,
    threshold_diff_answer: float,
    bins: int = 40,
):
    """Histogram of each val row's best train-match Jaccard, split by whether the answers agree.

    Both thresholds are drawn as vertical lines; rows whose answers agree are flagged from the
    lower line, the others from the higher one. The y axis is logarithmic (most val rows have
    no near-duplicate, so the interesting tail would be invisible on a linear axis).
    """
    apply_style()
    if len(best) == 0:
        raise ValueError("best is empty: nothing to plot")
    j = best["jaccard"].to_numpy(float)
    agree = best["answers_agree"].fillna(False).to_numpy(bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    fig, ax = plt.subplots()
    ax.hist([j[agree], j[~agree]], bins=edges, stacked=True,
            label=["answers agree", "answers differ / unknown"])
    ax.set_yscale("log")
    ax.axvline(threshold_same_answer, color="C2", ls="--", lw=1.2,
               label=f"threshold, same answer ({threshold_same_answer:.2f})")
    ax.axvline(threshold_diff_answer, color="C3", ls="--", lw=1.2,
               label=f"threshold, other answers ({threshold_diff_answer:.2f})")
    ax.set_xlim(0, 1)
    ax.set_xlabel("best-match Jaccard similarity to any train problem (word n-grams)")
    ax.set_ylabel("val problems (log scale)")
    ax.legend(loc="upper center", frameon=True, fontsize=8)
    n = len(best)
    n_flag = int(best["flagged"].sum()) if "flagged" in best else int(
        ((agree & (j >= threshold_same_answer)) | (j >= threshold_diff_answer)).sum())
    ax.set_title(
        f"{n_flag} of {n} val problems ({n_flag / n:.1%}) have a flagged train near-duplicate; "
        f"median best match J={np.median(j):.2f}"
    )
    return fig


def closest_pairs(best: pd.DataFrame) -> dict[str, pd.Series | None]:
    """The two pairs on either side of the rule's boundary, among val rows' best matches.

    "flagged": the flagged val row whose best match is the LEAST similar (the weakest pair the
    rule still calls contamination); "unflagged": the unflagged val row whose best match is the
    MOST similar (the closest pair the rule lets through). None when a side is empty.
    """
    has = best["train_id"].notna()
    out: dict[str, pd.Series | None] = {}
    for name, mask, pick in (("flagged", best["flagged"] & has, "idxmin"),
                             ("unflagged", ~best["flagged"] & has, "idxmax")):
        sub = best[mask]
        out[name] = sub.loc[getattr(sub["jaccard"], pick)()] if len(sub) else None
    return out


def closest_pairs_table(best: pd.DataFrame) -> pd.DataFrame:
    """Side-by-side table (rows: field, columns: weakest flagged / closest unflagged pair).

    Display it in a notebook (HTML) or with ``.to_markdown()``.
    """
    fields = ["val_id", "train_id", "jaccard", "answers_agree", "val_answer", "train_answer",
              "val_problem", "train_problem"]
    cols = {}
    for name, row in closest_pairs(best).items():
        label = "weakest flagged" if name == "flagged" else "closest unflagged"
        cols[label] = [None if row is None else row[f] for f in fields]
    return pd.DataFrame(cols, index=fields)


def _wrap(text, width: int = 60, max_lines: int = 12) -> str:
    lines = textwrap.wrap(str(text), width) or [""]
    return "\n".join(lines[:max_lines] + (["..."] if len(lines) > max_lines else []))


def plot_closest_pairs(best: pd.DataFrame):
    """Two panels: the weakest flagged pair and the closest unflagged pair, val above train.

    Problem texts are shown raw (LaTeX source, no math rendering), wrapped at 60 characters.
    """
    apply_style()
    pairs = closest_pairs(best)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, (name, row) in zip(axes, pairs.items()):
        ax.axis("off")
        if row is None:
            ax.text(0.5, 0.5, f"no {name} pair", ha="center", va="center")
            continue
        agree = row["answers_agree"]
        agree_s = "unknown" if pd.isna(agree) else ("agree" if agree else "differ")
        label = "weakest flagged" if name == "flagged" else "closest unflagged"
        ax.set_title(f"{label}: J={row['jaccard']:.3f}, answers {agree_s}", fontsize=10)
        # parse_math=False: show the LaTeX source; mathtext would choke on half the inputs.
        ax.text(0.0, 1.0, f"VAL {row['val_id']}  (answer: {row['val_answer']})\n{_wrap(row['val_problem'])}",
                va="top", ha="left", fontsize=8, family="monospace", transform=ax.transAxes, parse_math=False)
        ax.text(0.0, 0.48, f"TRAIN {row['train_id']}  (answer: {row['train_answer']})\n{_wrap(row['train_problem'])}",
                va="top", ha="left", fontsize=8, family="monospace", transform=ax.transAxes, parse_math=False)
    f, u = pairs["flagged"], pairs["unflagged"]
    if f is not None and u is not None:
        title = (f"Weakest flagged pair J={f['jaccard']:.3f} vs closest unflagged J={u['jaccard']:.3f}: "
                 "the rule's boundary, by example")
    elif f is None:
        title = "No val problem is flagged; the closest unflagged pair is shown"
    else:
        title = "Every val problem with a train match is flagged"
    fig.suptitle(title, fontweight="bold", fontsize=11)
    return fig
