"""Figures of 06_eval. Each takes ONE tier's tables (screening on val300, confirmation on val minus
val300; never mixed in a plot), returns a Figure whose title states the finding and names the tier
and prompt set, and is saved by the caller with ``plots.save_figure``. No screening title names a
winner: screening only hands candidates to confirmation.

Accuracies are fractions (axes in %), differences in percentage points. Accuracy CIs are 95%;
difference CIs are at the row's Holm level (see :mod:`ssdlib.stats.multiplicity`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssdlib.plots import apply_style

BASELINE_COLOUR = "0.35"


def _is_baseline(model: str) -> bool:
    return str(model).startswith("baseline:")


def _colours(models) -> dict[str, str]:
    models = [m for m in models if not _is_baseline(m)]
    return {m: f"C{i % 10}" for i, m in enumerate(models)}


def _baseline_band(ax, row: pd.Series, label: str) -> None:
    ax.axhline(row["accuracy"] * 100, color=BASELINE_COLOUR, ls="--", lw=1.2, label=label)
    if np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]):
        ax.axhspan(
            row["ci_low"] * 100, row["ci_high"] * 100, color=BASELINE_COLOUR, alpha=0.12, lw=0
        )


def _pp(x: float) -> str:
    return f"{x * 100:+.1f}"


def plot_accuracy_by_step(
    results: pd.DataFrame, contrasts: pd.DataFrame, label: str, candidates=()
):
    """Screening: accuracy at eval_decode across training steps (step 0 = base model) with the
    baseline band; below, each model's paired difference to the baseline with its Holm-level CI.

    Exploratory by design: the title names the candidates it hands to confirmation, never a winner.
    """
    apply_style()
    base_row = results[results["model"].map(_is_baseline)].iloc[0]
    rows = results[~results["model"].map(_is_baseline)].sort_values("step")
    step = rows["step"].to_numpy(float)
    fig, (ax, ax_d) = plt.subplots(2, 1, sharex=True, figsize=(7.0, 5.6), height_ratios=(3, 2))
    _baseline_band(ax, base_row, f"{base_row['model']} (base model)")
    acc = rows["accuracy"].to_numpy(float) * 100
    ax.errorbar(
        step,
        acc,
        yerr=[acc - rows["ci_low"] * 100, rows["ci_high"] * 100 - acc],
        marker="o",
        capsize=4,
        color="C1",
        label="base (step 0) and SSD checkpoints, eval decode",
    )
    ax.set_ylabel("accuracy, % (95% CI)")
    ax.set_ylim(bottom=0)  # normal-approximation CIs can reach below 0%: not a possible accuracy
    ax.legend(fontsize=8, loc="best")
    vs = (
        contrasts[contrasts["reference"].map(_is_baseline)]
        .set_index("challenger")
        .reindex(rows["model"])
    )
    d = vs["diff"].to_numpy(float) * 100
    ax_d.axhline(0, color=BASELINE_COLOUR, lw=1)
    ax_d.errorbar(
        step,
        d,
        yerr=[
            d - vs["ci_adj_low"].to_numpy(float) * 100,
            vs["ci_adj_high"].to_numpy(float) * 100 - d,
        ],
        marker="o",
        capsize=4,
        color="C2",
        ls="none",
    )
    ax_d.set_ylabel("vs baseline, p.p.\n(paired, Holm-level CI)")
    ax_d.set_xlabel("training step (0 = base model)")
    ax_d.set_xticks(step)
    n_sig = int(vs["verdict"].isin(["better", "worse"]).sum())
    picked = f"\ncandidates for confirmation: {', '.join(candidates)}" if len(candidates) else ""
    fig.suptitle(
        f"{label}, exploratory: {n_sig} of {len(vs)} models differ from {base_row['model']} after Holm"
        f"{picked}",
        fontsize=10,
        fontweight="bold",
    )
    fig.tight_layout()
    return fig


def plot_contrasts(contrasts: pd.DataFrame, title: str):
    """Forest plot of one tier's declared contrasts: paired difference (p.p.) with its Holm-level CI,
    coloured by verdict. ``title`` states the finding (e.g. :func:`ssdlib.verdict.contrasts.headline`)."""
    apply_style()
    rows = contrasts.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(rows) + 1.6))
    colour = {
        "better": "C2",
        "worse": "C3",
        "no detectable difference": "0.3",
        "undetermined": "0.7",
    }
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows.itertuples(index=False)):
        d = r.diff * 100
        if np.isfinite(d):
            lo, hi = r.ci_adj_low * 100, r.ci_adj_high * 100
            ax.errorbar(
                [d],
                [yi],
                xerr=[[d - lo], [hi - d]] if np.isfinite(lo) else None,
                marker="o",
                capsize=4,
                color=colour.get(r.verdict, "0.3"),
                ls="none",
            )
        ax.text(
            1.01,
            yi,
            f"{r.verdict} (Holm p {r.p_holm:.2g})",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=8,
            color=colour.get(r.verdict, "0.3"),
        )
    ax.axvline(0, color=BASELINE_COLOUR, lw=1)
    ax.set_yticks(
        y,
        [
            f"{r.contrast}\n{r.challenger} vs {r.reference} (n={r.n_shared})"
            for r in rows.itertuples(index=False)
        ],
        fontsize=8,
    )
    ax.set_xlabel("paired difference, p.p. (CI at each row's Holm level)")
    fig.suptitle(title, fontsize=10, fontweight="bold", wrap=True)
    fig.tight_layout()
    return fig


def plot_pass_at_k(curves: pd.DataFrame, budget: str):
    """Unbiased pass@k against k per model (band: +-1.96 per-prompt SE); baseline dashed."""
    apply_style()
    fig, ax = plt.subplots()
    colours = _colours(curves["model"].unique())
    for model, sub in curves.groupby("model", sort=False):
        sub = sub.dropna(subset=["pass_at_k"]).sort_values("k")
        if sub.empty:
            continue
        k, v, se = (
            sub["k"].to_numpy(),
            sub["pass_at_k"].to_numpy() * 100,
            sub["se"].fillna(0).to_numpy() * 100,
        )
        style = (
            dict(color=BASELINE_COLOUR, ls="--")
            if _is_baseline(model)
            else dict(color=colours[model])
        )
        ax.plot(k, v, marker="o", label=model, **style)
        ax.fill_between(k, v - 1.96 * se, v + 1.96 * se, alpha=0.12, color=style["color"], lw=0)
    ax.set_xlabel("k (samples per problem)")
    ax.set_ylabel("pass@k, % (unbiased)")
    ax.set_ylim(bottom=0)
    ax.set_xticks(sorted(curves["k"].unique()))
    ax.legend(fontsize=8, loc="best")
    kmax = int(curves.dropna(subset=["pass_at_k"])["k"].max())
    at = curves[(curves["k"] == kmax) & ~curves["model"].map(_is_baseline)].dropna(
        subset=["pass_at_k"]
    )
    if len(at):
        top = at.loc[at["pass_at_k"].idxmax()]
        ax.set_title(
            f"{budget}: at k={kmax}, {top['model']} solves the most ({top['pass_at_k']:.1%})"
        )
    else:
        ax.set_title(f"{budget}: pass@k per model")
    fig.tight_layout()
    return fig


def plot_temperature_sweep(sweep: pd.DataFrame, baseline_row: pd.Series, budget: str):
    """Accuracy against T_eval per model (95% CI), the baseline as a band."""
    apply_style()
    fig, ax = plt.subplots()
    _baseline_band(ax, baseline_row, str(baseline_row["model"]))
    colours = _colours(sweep.sort_values("step")["model"].unique())
    for model, sub in sweep.sort_values(["step", "temperature"]).groupby("model", sort=False):
        a = sub["accuracy"].to_numpy() * 100
        ax.errorbar(
            sub["temperature"],
            a,
            yerr=[a - sub["ci_low"] * 100, sub["ci_high"] * 100 - a],
            marker="o",
            capsize=3,
            color=colours[model],
            label=model,
        )
    ax.set_xlabel("T_eval")
    ax.set_ylabel("accuracy, % (95% CI)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="best")
    n_sig = int(sweep["verdict"].isin(["better", "worse"]).sum()) if "verdict" in sweep else 0
    ax.set_title(
        f"{budget}, exploratory: {n_sig} of {len(sweep)} (model, T_eval) points differ from "
        f"{baseline_row['model'].removeprefix('baseline: ')} after Holm",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_breakdown(by_source: pd.DataFrame, by_difficulty: pd.DataFrame, budget: str):
    """Accuracy per source (left) and per difficulty (right), grouped by model, 95% CI."""
    apply_style()
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2))
    models = list(dict.fromkeys(by_source["model"]))
    colours = _colours(models)
    for ax, table, col in ((axes[0], by_source, "source"), (axes[1], by_difficulty, "difficulty")):
        groups = sorted(table[col].dropna().unique(), key=lambda x: (isinstance(x, str), x))
        width = 0.8 / max(len(models), 1)
        for i, m in enumerate(models):
            sub = table[table["model"] == m].set_index(col).reindex(groups)
            a = sub["accuracy"].to_numpy(float) * 100
            err = np.nan_to_num(
                [a - sub["ci_low"].to_numpy(float) * 100, sub["ci_high"].to_numpy(float) * 100 - a]
            )
            ax.bar(
                np.arange(len(groups)) + i * width,
                a,
                width,
                yerr=np.clip(err, 0, None),
                capsize=2,
                label=m,
                color=BASELINE_COLOUR if _is_baseline(m) else colours[m],
            )
        labels = [f"{g:g}" if isinstance(g, float) else str(g) for g in groups]
        ax.set_xticks(np.arange(len(groups)) + width * (len(models) - 1) / 2, labels)
        ax.set_xlabel(col)
        ax.set_ylabel("accuracy, % (95% CI)")
        ax.set_ylim(bottom=0)
    axes[1].legend(fontsize=8, loc="best")
    # Finding: where does the last checkpoint differ most from the base model?
    ckpts = [m for m in models if not _is_baseline(m) and m != "base"]
    title = f"{budget}: accuracy by source and difficulty"
    if ckpts and "base" in models:
        d = by_difficulty.pivot_table(index="difficulty", columns="model", values="accuracy")
        gap = (
            (d[ckpts[-1]] - d["base"]).dropna()
            if {ckpts[-1], "base"} <= set(d.columns)
            else pd.Series(dtype=float)
        )
        if len(gap) and gap.abs().max() > 0:
            where = gap.abs().idxmax()
            label = f"{where:g}" if isinstance(where, (int, float, np.floating)) else str(where)
            title += f"; {ckpts[-1]} vs base differs most at difficulty {label} ({gap[where] * 100:+.1f} p.p.)"
        elif len(gap):
            title += f"; {ckpts[-1]} and base agree at every difficulty"
    fig.suptitle(title, fontsize=11, fontweight="bold")
    fig.tight_layout()
    return fig


def plot_pass_at_k_by_difficulty(curves: pd.DataFrame, label: str):
    """pass@k against k per model, over all prompts (left) and the hardest by base pass rate (right).

    ``curves`` from :func:`ssdlib.lockfork.difficulty.pass_at_k_by_bin` (one prompt set); bands are
    +-1.96 per-prompt SE. Draw it only where every prompt has >= 2 samples (k >= 2): with one
    sample pass@k is a single point. The title states the finding at the largest k on the
    hardest prompts: which model solves most, against the base model.
    """
    apply_style()
    subsets = list(dict.fromkeys(curves["subset"]))
    fig, axes = plt.subplots(
        1, len(subsets), figsize=(5.4 * len(subsets), 4.2), squeeze=False, sharey=True
    )
    colours = _colours(curves["model"].unique())
    for ax, subset in zip(axes[0], subsets):
        sub = curves[curves["subset"] == subset]
        for model, m in sub.groupby("model", sort=False):
            m = m.dropna(subset=["pass_at_k"]).sort_values("k")
            if m.empty:
                continue
            k, v, se = (
                m["k"].to_numpy(),
                m["pass_at_k"].to_numpy() * 100,
                m["se"].fillna(0).to_numpy() * 100,
            )
            ax.plot(k, v, marker="o", label=model, color=colours[model])
            ax.fill_between(k, v - 1.96 * se, v + 1.96 * se, alpha=0.12, color=colours[model], lw=0)
        n = int(sub["n_prompts"].max()) if len(sub) else 0
        ax.set_title(f"{subset} ({n} prompts)", fontsize=9)
        ax.set_xlabel("k (samples per prompt)")
        ax.set_xticks(sorted(sub["k"].unique()))
    axes[0][0].set_ylabel("pass@k, % (unbiased; band 95%)")
    axes[0][0].legend(fontsize=8, loc="best")
    last = curves[curves["subset"] == subsets[-1]].dropna(subset=["pass_at_k"])
    kmax = int(last["k"].max())
    at = last[last["k"] == kmax].set_index("model")["pass_at_k"]
    top = at.idxmax()
    base = f" vs base {at['base']:.1%}" if "base" in at.index and top != "base" else ""
    fig.suptitle(
        f"{label}: pass@{kmax} on {subsets[-1].split(':')[0]} prompts is highest for {top} "
        f"({at[top]:.1%}{base})",
        fontsize=10,
        fontweight="bold",
    )
    fig.tight_layout()
    return fig


def plot_accuracy_by_difficulty(
    by_bin: pd.DataFrame,
    label: str,
    *,
    bin_col: str = "base_pass_bin",
    omni: pd.DataFrame | None = None,
    omni_label: str = "Omni-MATH",
):
    """Accuracy per model by base-pass-rate bin (left, hardest first), and, when given, by
    Omni-MATH's native difficulty within Omni only (right). 95% CIs from per-prompt SEs."""
    apply_style()
    panels = [(by_bin, bin_col, "base model's pass rate in 03 (bin)")]
    if omni is not None and len(omni):
        panels.append(
            (omni, "difficulty", f"{omni_label} native difficulty (within {omni_label} only)")
        )
    fig, axes = plt.subplots(
        1, len(panels), figsize=(max(9.0, 6.0 * len(panels)), 4.2), squeeze=False
    )
    models = list(dict.fromkeys(by_bin["model"]))
    colours = _colours(models)
    for ax, (table, col, xlabel) in zip(axes[0], panels):
        groups = (
            list(dict.fromkeys(table[col]))
            if col == bin_col
            else sorted(table[col].dropna().unique())
        )
        width = 0.8 / max(len(models), 1)
        for i, m in enumerate(models):
            sub = table[table["model"] == m].set_index(col).reindex(groups)
            a = sub["accuracy"].to_numpy(float) * 100
            err = np.nan_to_num(
                [a - sub["ci_low"].to_numpy(float) * 100, sub["ci_high"].to_numpy(float) * 100 - a]
            )
            ax.bar(
                np.arange(len(groups)) + i * width,
                a,
                width,
                yerr=np.clip(err, 0, None),
                capsize=2,
                label=m,
                color=BASELINE_COLOUR if _is_baseline(m) else colours[m],
            )
        ticks = [f"{g:g}" if isinstance(g, (float, np.floating)) else str(g) for g in groups]
        ax.set_xticks(np.arange(len(groups)) + width * (len(models) - 1) / 2, ticks, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy, % (95% CI)")
        ax.set_ylim(bottom=0)
    axes[0][0].legend(fontsize=8, loc="best")
    d = by_bin.pivot_table(index=bin_col, columns="model", values="accuracy", observed=True)
    others = [m for m in models if m != "base" and not _is_baseline(m)]
    title = f"{label}: accuracy by the base model's own pass rate"
    if others and "base" in d.columns and others[0] in d.columns:
        both = d[[others[0], "base"]].dropna()
        hardest = next((g for g in dict.fromkeys(by_bin[bin_col]) if g in both.index), None)
        if hardest is not None:
            gap = (both.loc[hardest, others[0]] - both.loc[hardest, "base"]) * 100
            title += f"; on the hardest bin {hardest}, {others[0]} vs base {gap:+.1f} p.p."
    fig.suptitle(title, fontsize=10, fontweight="bold")
    fig.tight_layout()
    return fig
