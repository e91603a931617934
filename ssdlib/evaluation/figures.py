"""Figures of 03_baselines (and the decode sweeps of 06_eval). Each returns a Figure; the
caller saves it with :func:`ssdlib.plots.save_figure`. Titles state the finding."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssdlib.plots import apply_style


def plot_sweep(
    summary: pd.DataFrame,
    x: str,
    label: str,
    budget: str,
    reference: pd.Series | None = None,
    reference_label: str = "",
) -> plt.Figure:
    """Accuracy with 95% CI error bars along one swept decode knob (``x`` column).

    ``reference`` (a summary row) is drawn as a band: e.g. the min-p sweep's min_p = 0 point under
    the same top-k/top-p, so a reader sees what min-p adds over plain T = 1 sampling.
    """
    apply_style()
    s = summary.sort_values(x)
    fig, ax = plt.subplots()
    if reference is not None:
        ax.axhline(
            reference["accuracy"],
            color="0.35",
            ls="--",
            lw=1.2,
            label=reference_label or "reference",
        )
        ax.axhspan(reference["ci_low"], reference["ci_high"], color="0.35", alpha=0.12, lw=0)
    ax.errorbar(
        s[x],
        s["accuracy"],
        yerr=[s["accuracy"] - s["ci_low"], s["ci_high"] - s["accuracy"]],
        marker="o",
        capsize=4,
        label=label,
    )
    best = s.loc[s["accuracy"].idxmax()]
    ax.set_xlabel(label)
    ax.set_ylabel("accuracy (per-prompt mean, 95% CI)")
    spread = s["accuracy"].max() - s["accuracy"].min()
    overlap = s["ci_low"].max() <= s["ci_high"].min()
    verdict = "all CIs overlap" if overlap else "CIs separate some settings"
    ax.set_title(
        f"{budget}: highest at {label} = {best[x]:g} ({best['accuracy']:.1%}); "
        f"range {spread * 100:.1f} p.p., {verdict}",
        fontsize=10,
    )
    ax.set_ylim(bottom=0)
    if reference is not None:
        ax.legend(fontsize=8, loc="best")
    return fig


def plot_main_results(
    summaries: dict[str, pd.DataFrame], names: Sequence[str], findings: dict[str, pd.DataFrame]
):
    """The named presets' accuracy (95% CI), one panel per budget (never one axis: val300 is harder),
    with the declared findings' Holm verdicts in each panel's title."""
    apply_style()
    fig, axes = plt.subplots(
        1, len(summaries), figsize=(5.2 * len(summaries), 4.2), sharey=False, squeeze=False
    )
    for ax, (budget, summ) in zip(axes[0], summaries.items()):
        s = summ.set_index("name").loc[list(names)]
        a = s["accuracy"].to_numpy(float) * 100
        ax.bar(
            range(len(s)),
            a,
            color=[f"C{i}" for i in range(len(s))],
            yerr=[a - s["ci_low"].to_numpy(float) * 100, s["ci_high"].to_numpy(float) * 100 - a],
            capsize=4,
        )
        ax.set_xticks(range(len(s)), list(s.index), rotation=15)
        ax.set_ylabel("accuracy, % (95% CI)")
        ax.set_ylim(bottom=0)
        f = findings.get(budget)
        sub = (
            ""
            if f is None
            else "\n".join(
                f"{r.contrast}: {r.diff * 100:+.1f} p.p., {r.verdict}" for r in f.itertuples()
            )
        )
        ax.set_title(f"{budget} ({int(s['n_prompts'].iloc[0])} prompts)\n{sub}", fontsize=9)
    verdicts = [v for f in findings.values() for v in f["verdict"]]
    n_sig = sum(v in ("better", "worse") for v in verdicts)
    fig.suptitle(
        f"Decode-only baselines: {n_sig} of {len(verdicts)} declared findings hold after Holm "
        "(paired, per budget)",
        fontsize=11,
        fontweight="bold",
    )
    fig.tight_layout()
    return fig


RATES = {
    "accuracy": "accuracy",
    "think_close_rate": "think closed",
    "boxed_rate": "boxed answer",
    "length_stop_rate": "hit length cap",
}


def plot_rates(summary: pd.DataFrame, name_col: str, budget: str) -> plt.Figure:
    """Accuracy and the three behaviour rates per named decode setting, side by side."""
    apply_style()
    long = summary.melt(
        id_vars=[name_col], value_vars=list(RATES), var_name="metric", value_name="rate"
    )
    long["metric"] = long["metric"].map(RATES)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    names = list(summary[name_col])
    width = 0.8 / len(RATES)
    for i, metric in enumerate(RATES.values()):
        vals = long[long.metric == metric].set_index(name_col).loc[names, "rate"]
        ax.bar(np.arange(len(names)) + i * width, vals, width, label=metric)
    ax.set_xticks(
        np.arange(len(names)) + width * (len(RATES) - 1) / 2, names, rotation=20, ha="right"
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("rate (per-prompt mean)")
    ax.legend(ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    top = summary.loc[summary["accuracy"].idxmax()]
    worst_len = summary.loc[summary["length_stop_rate"].idxmax()]
    ax.set_title(
        f"{budget}: {top[name_col]} is most accurate ({top['accuracy']:.1%}); "
        f"{worst_len[name_col]} hits the cap most ({worst_len['length_stop_rate']:.0%})"
    )
    return fig


def plot_lengths(graded: pd.DataFrame, name_col: str, cap: int, budget: str) -> plt.Figure:
    """Distribution of response lengths per decode setting, with the generation cap marked."""
    apply_style()
    fig, ax = plt.subplots()
    for name, sub in graded.groupby(name_col, sort=True):
        x = np.sort(sub["n_tokens"].to_numpy())
        ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", label=str(name))
    ax.axvline(cap, color="black", ls="--", lw=1)
    ax.text(cap, 0.02, " cap", va="bottom")
    ax.set_xlabel("response length (tokens)")
    ax.set_ylabel("fraction of samples (ECDF)")
    ax.legend(fontsize=8, loc="lower right")
    at_cap = (graded["n_tokens"] >= cap).mean()
    ax.set_title(f"{budget}: {at_cap:.0%} of all samples run to the {cap}-token cap")
    return fig
