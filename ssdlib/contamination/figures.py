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
    ax.hist(
        [j[agree], j[~agree]],
        bins=edges,
        stacked=True,
        label=["answers agree", "answers differ / unknown"],
    )
    ax.set_yscale("log")
    ax.axvline(
        threshold_same_answer,
        color="C2",
        ls="--",
        lw=1.2,
        label=f"threshold, same answer ({threshold_same_answer:.2f})",
    )
    ax.axvline(
        threshold_diff_answer,
        color="C3",
        ls="--",
        lw=1.2,
        label=f"threshold, other answers ({threshold_diff_answer:.2f})",
    )
    ax.set_xlim(0, 1)
    ax.set_xlabel("best-match Jaccard similarity to any train problem (word n-grams)")
    ax.set_ylabel("val problems (log scale)")
    ax.legend(loc="upper center", frameon=True, fontsize=8)
    n = len(best)
    n_flag = (
        int(best["flagged"].sum())
        if "flagged" in best
        else int(((agree & (j >= threshold_same_answer)) | (j >= threshold_diff_answer)).sum())
    )
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
    for name, mask, pick in (
        ("flagged", best["flagged"] & has, "idxmin"),
        ("unflagged", ~best["flagged"] & has, "idxmax"),
    ):
        sub = best[mask]
        out[name] = sub.loc[getattr(sub["jaccard"], pick)()] if len(sub) else None
    return out


def closest_pairs_table(best: pd.DataFrame) -> pd.DataFrame:
    """Side-by-side table (rows: field, columns: weakest flagged / closest unflagged pair).

    Display it in a notebook (HTML) or with ``.to_markdown()``.
    """
    fields = [
        "val_id",
        "train_id",
        "jaccard",
        "answers_agree",
        "val_answer",
        "train_answer",
        "val_problem",
        "train_problem",
    ]
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
        ax.text(
            0.0,
            1.0,
            f"VAL {row['val_id']}  (answer: {row['val_answer']})\n{_wrap(row['val_problem'])}",
            va="top",
            ha="left",
            fontsize=8,
            family="monospace",
            transform=ax.transAxes,
            parse_math=False,
        )
        ax.text(
            0.0,
            0.48,
            f"TRAIN {row['train_id']}  (answer: {row['train_answer']})\n{_wrap(row['train_problem'])}",
            va="top",
            ha="left",
            fontsize=8,
            family="monospace",
            transform=ax.transAxes,
            parse_math=False,
        )
    f, u = pairs["flagged"], pairs["unflagged"]
    if f is not None and u is not None:
        title = (
            f"Weakest flagged pair J={f['jaccard']:.3f} vs closest unflagged J={u['jaccard']:.3f}: "
            "the rule's boundary, by example"
        )
    elif f is None:
        title = "No val problem is flagged; the closest unflagged pair is shown"
    else:
        title = "Every val problem with a train match is flagged"
    fig.suptitle(title, fontweight="bold", fontsize=11)
    return fig


def plot_category_recall(table: pd.DataFrame):
    """Flag rate per labelled category, before (#13's predecessor) and after (held-out CV).

    ``table`` is ``labelled_eval.before_after`` (or ``labelled_report``'s table). For duplicate
    categories the flag rate is recall (right is good); for the others it is the false-positive
    rate (left is good). The title states the pooled held-out recall / precision.
    """
    apply_style()
    cats = table[~table["category"].str.startswith("pooled")].iloc[::-1]
    pooled = table.set_index("category")
    y = np.arange(len(cats))
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(cats) + 1.5))
    ax.barh(
        y + 0.2, cats["before"], height=0.4, color="C7", label="before (word 5-grams, answer-aware)"
    )
    ax.barh(y - 0.2, cats["after"], height=0.4, color="C0", label="after (#13 rule, held-out CV)")
    ax.set_yticks(
        y,
        [
            f"{c}  ({'dup' if lab == 'duplicate' else 'diff'})"
            for c, lab in zip(cats["category"], cats["label"])
        ],
        fontsize=8,
    )
    ax.set_xlim(0, 1.02)
    ax.axvline(0.85, color="C3", ls=":", lw=1)
    ax.set_xlabel(
        "share of pairs flagged (recall for 'dup' categories, false-positive rate for 'diff')"
    )
    ax.legend(loc="lower right", fontsize=8, frameon=True)
    r, p = pooled.loc["pooled recall"], pooled.loc["pooled precision"]
    ax.set_title(
        f"Recall {r['before']:.2f} -> {r['after']:.2f}, precision {p['before']:.2f} -> {p['after']:.2f} "
        "on the labelled set (held out)",
        fontsize=11,
    )
    return fig


def gallery_pairs(pairs: pd.DataFrame, k: int = 3) -> dict[str, pd.DataFrame]:
    """The hardest caught and hardest rejected labelled pairs under the profile's thresholds.

    "caught": true duplicates that were flagged with the LEAST surface similarity (char cosine);
    "rejected": non-duplicates left unflagged with the MOST surface similarity;
    "missed": true duplicates left unflagged (most similar first), possibly empty.
    """
    dup = pairs["label"].astype(bool)
    cols = [
        "category",
        "path",
        "char",
        "jaccard",
        "answers_agree",
        "problem_a",
        "problem_b",
        "answer_a",
        "answer_b",
    ]
    p = pairs.assign(jaccard=pairs["j5"])
    return {
        "caught": p[dup & p["flag"]].nsmallest(k, "char")[cols],
        "rejected": p[~dup & ~p["flag"]].nlargest(k, "char")[cols],
        "missed": p[dup & ~p["flag"]].nlargest(k, "char")[cols],
    }


def plot_pair_gallery(pairs: pd.DataFrame, k: int = 3):
    """k hardest caught duplicates (left) and k hardest rejected non-duplicates (right), as text."""
    apply_style()
    g = gallery_pairs(pairs, k)
    fig, axes = plt.subplots(k, 2, figsize=(13, 1.5 * k + 0.6))
    axes = np.atleast_2d(axes)
    for col, name in enumerate(("caught", "rejected")):
        rows = list(g[name].itertuples())
        for r in range(k):
            ax = axes[r, col]
            ax.axis("off")
            if r >= len(rows):
                continue
            x = rows[r]
            head = (
                f"{name.upper()} [{x.category}] char={x.char:.2f} J5={x.jaccard:.2f} "
                f"answers {'agree' if x.answers_agree is True else 'differ' if x.answers_agree is False else 'unknown'}"
                + (f" -> {x.path}" if x.path else "")
            )
            ax.set_title(head, fontsize=8, loc="left")
            ax.text(
                0,
                0.95,
                f"A ({x.answer_a}): {_wrap(x.problem_a, 85, 4)}\nB ({x.answer_b}): {_wrap(x.problem_b, 85, 4)}",
                va="top",
                ha="left",
                fontsize=7,
                family="monospace",
                transform=ax.transAxes,
                parse_math=False,
            )
    n_missed = int((pairs["label"].astype(bool) & ~pairs["flag"]).sum())
    fig.suptitle(
        f"Caught with little text in common (left) vs rejected despite much (right); "
        f"{n_missed} labelled duplicates missed",
        fontweight="bold",
        fontsize=11,
    )
    fig.tight_layout()
    return fig
