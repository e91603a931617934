"""Figures for the variance / power notebook (04_variance).

Each function returns a matplotlib Figure whose title states the finding computed from the
inputs; none saves anything (use :func:`ssdlib.plots.save_figure`). Axes show accuracy
effects and SEs in percentage points (p.p.); inputs are fractions / squared fractions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssdlib.plots import apply_style
from ssdlib.stats.power import minimum_detectable_effect, required_prompts
from ssdlib.stats.se import se_for
from ssdlib.stats.variance import variance_components

PP = 100.0  # fraction -> percentage points


def _budgets(budgets: Mapping[str, int] | Sequence[int] | None) -> dict[str, int]:
    """Normalise prompt budgets to {label: n}; a bare list gets labels "n=300"."""
    if budgets is None:
        return {}
    if isinstance(budgets, Mapping):
        return {str(k): int(v) for k, v in budgets.items()}
    return {f"n={int(v)}": int(v) for v in budgets}


def plot_variance_components(samples: pd.DataFrame, by: str = "source", score: str = "correct"):
    """Stacked bars of between- and within-prompt variance per ``by`` group plus overall.

    Bar height is the variance of a single sample's score (fraction^2); the label on each bar
    is the between-prompt share. The title states the overall share and what it implies.
    Raises ValueError when no prompt has two samples (components not identifiable).
    """
    apply_style()
    per_group = variance_components(samples, score=score, by=by)
    overall = variance_components(samples, score=score).assign(**{by: "overall"})
    table = pd.concat([per_group, overall], ignore_index=True)
    share = float(overall["between_share"].iloc[0])
    if np.isnan(share):
        raise ValueError("no prompt has two or more samples: between/within cannot be separated")
    labels = [f"{g}\n(n={n})" for g, n in zip(table[by], table["n_prompts"])]
    x = np.arange(len(table))
    fig, ax = plt.subplots()
    ax.bar(x, table["var_between"], label="between prompts (difficulty)")
    ax.bar(x, table["var_within"], bottom=table["var_between"], label="within prompt (sampling)")
    for xi, total, s in zip(x, table["var_total"], table["between_share"]):
        ax.annotate(f"{s:.0%}", (xi, total), ha="center", va="bottom", fontsize=9)
    ax.axvline(len(table) - 1.5, color="0.5", lw=0.8, ls=":")
    ax.set_xticks(x, labels)
    ax.set_ylabel("variance of one sample's score")
    ax.legend(loc="lower right", frameon=True)
    if share >= 0.5:
        title = f"Between-prompt variance is {share:.0%} of the total: add prompts, not samples"
    else:
        title = f"Within-prompt variance is {1 - share:.0%} of the total: more samples per prompt pay off"
    ax.set_title(title)
    return fig


def plot_se_vs_k(var_between: float, var_within: float, n: int, K_max: int = 16, K_ref: int = 8):
    """SE of mean accuracy (p.p.) vs samples per prompt K, at a fixed ``n`` prompts.

    Also draws the floor sqrt(var_between / n) that no K can beat, and, for contrast, the SE
    if the same n*K samples were spent on n*K distinct prompts (K=1). The title reports how
    much going from K=1 to ``K_ref`` shrinks the SE.
    """
    apply_style()
    K = np.arange(1, K_max + 1)
    se = se_for(n, K, var_between, var_within) * PP
    se_more_prompts = se_for(n * K, 1, var_between, var_within) * PP
    floor = np.sqrt(var_between / n) * PP
    fig, ax = plt.subplots()
    ax.plot(K, se, marker="o", label=f"{n} prompts x K samples")
    ax.plot(K, se_more_prompts, ls="--", label="same samples on n*K prompts (K=1)")
    ax.axhline(floor, color="0.4", ls=":", label="floor: between-prompt part only")
    ax.set_xlabel("samples per prompt K")
    ax.set_ylabel("SE of accuracy (p.p.)")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=True)
    se1, se_ref = float(se[0]), float(se_for(n, K_ref, var_between, var_within) * PP)
    cut = 1 - se_ref / se1
    only = "only " if cut < 0.25 else ""
    ax.set_title(
        f"At n={n}, K=1 to K={K_ref} cuts the SE {only}{cut:.0%} ({se1:.2f} to {se_ref:.2f} p.p.)"
    )
    return fig


def _power_kw(var_between, var_within, K, cov_between):
    return dict(
        var_between_a=var_between, var_within_a=var_within, cov_between=cov_between, K_a=K, K_b=K
    )


def plot_mde_vs_n(
    var_between: float,
    var_within: float,
    budgets: Mapping[str, int] | Sequence[int] | None = None,
    K_options: Sequence[int] = (1, 2, 4, 8),
    n_max: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    cov_between: float = 0.0,
):
    """Minimum detectable effect (p.p.) between two configs vs prompts n, one line per K.

    Available prompt budgets (e.g. {"quick": 300, "full": 1000}) are vertical lines; the
    title gives the MDE at the largest budget for the smallest and largest K.
    ``cov_between`` > 0 models a paired comparison on shared prompts.
    """
    apply_style()
    budgets = _budgets(budgets)
    top = max(budgets.values(), default=1000)
    n_grid = np.geomspace(50, n_max or max(5000, 2 * top), 200)
    fig, ax = plt.subplots()
    for K in K_options:
        mde = minimum_detectable_effect(
            n_grid, alpha, power, **_power_kw(var_between, var_within, K, cov_between)
        )
        ax.plot(n_grid, mde * PP, label=f"K={K}")
    for label, b in budgets.items():
        ax.axvline(b, color="0.3", ls=":", lw=1)
        ax.annotate(
            f"{label} ({b:,})",
            (b, 0.02),
            xycoords=("data", "axes fraction"),
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xlabel("prompts n")
    ax.set_ylabel("min. detectable effect (p.p.)")
    ax.set_ylim(bottom=0)
    ax.legend(title=f"K (power {power:.0%}, alpha {alpha:g})", frameon=True)
    k_lo, k_hi = min(K_options), max(K_options)
    lo = (
        minimum_detectable_effect(
            top, alpha, power, **_power_kw(var_between, var_within, k_lo, cov_between)
        )
        * PP
    )
    hi = (
        minimum_detectable_effect(
            top, alpha, power, **_power_kw(var_between, var_within, k_hi, cov_between)
        )
        * PP
    )
    ax.set_title(
        f"With {top} prompts the smallest detectable effect is {lo:.1f} p.p. at K={k_lo}, {hi:.1f} at K={k_hi}"
    )
    return fig


def plot_required_n_vs_delta(
    var_between: float,
    var_within: float,
    budgets: Mapping[str, int] | Sequence[int] | None = None,
    K_options: Sequence[int] = (1, 2, 4, 8),
    deltas: Sequence[float] | None = None,
    target_delta: float = 0.05,
    alpha: float = 0.05,
    power: float = 0.8,
    cov_between: float = 0.0,
):
    """Prompts needed (log scale) vs effect size delta (p.p.), one line per K.

    Budgets are horizontal lines. The title states the n needed at K=min(K_options) for
    ``target_delta`` (a fraction; 0.05 = 5 p.p.) and whether the largest budget covers it.
    """
    apply_style()
    budgets = _budgets(budgets)
    deltas = np.linspace(0.01, 0.10, 91) if deltas is None else np.asarray(deltas, dtype=float)
    fig, ax = plt.subplots()
    for K in K_options:
        n = required_prompts(
            deltas, alpha, power, **_power_kw(var_between, var_within, K, cov_between)
        )
        ax.plot(deltas * PP, n, label=f"K={K}")
    for label, b in budgets.items():
        ax.axhline(b, color="0.3", ls=":", lw=1)
        ax.annotate(
            f"{label} ({b:,})",
            (0.01, b),
            xycoords=("axes fraction", "data"),
            ha="left",
            va="bottom",
            fontsize=8,
        )
    ax.axvline(target_delta * PP, color="0.6", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("effect to detect (p.p.)")
    ax.set_ylabel("prompts needed")
    ax.legend(title=f"K (power {power:.0%}, alpha {alpha:g})", frameon=True)
    k_lo = min(K_options)
    need = int(
        np.ceil(
            required_prompts(
                target_delta, alpha, power, **_power_kw(var_between, var_within, k_lo, cov_between)
            )
        )
    )
    title = f"Detecting {target_delta * PP:g} p.p. needs {need:,} prompts at K={k_lo}"
    if budgets:
        name, top = max(budgets.items(), key=lambda kv: kv[1])
        verdict = "within" if need <= top else f"{need / top:.1f}x"
        title += f" ({verdict} the {name} budget of {top:,})"
    ax.set_title(title)
    return fig


def plot_paired_vs_unpaired(
    table: pd.DataFrame,
    delta: float,
    budgets: Mapping[str, int] | None = None,
    title_prefix: str = "",
):
    """Prompts needed for ``delta`` (fraction) by test design: unpaired, then paired at each
    correlation (rows of :func:`ssdlib.stats.power.paired_vs_unpaired`); budgets as lines. The title
    states how many prompts the paired test that 06 runs needs at the measured correlation."""
    apply_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    labels = [
        "unpaired" if np.isnan(r) else f"paired\nrho={r:.2f}\n({src})"
        for r, src in zip(table["correlation"], table["correlation_source"])
    ]
    colours = ["0.55" if np.isnan(r) else "C0" for r in table["correlation"]]
    bars = ax.bar(range(len(table)), table["n_t"], color=colours)
    for b, n in zip(bars, table["n_t"]):
        ax.annotate(
            f"{int(n):,}",
            (b.get_x() + b.get_width() / 2, b.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    for label, n in _budgets(budgets).items():
        ax.axhline(n, color="0.3", ls=":", lw=1)
        ax.annotate(
            f"{label} ({n:,})",
            (1.0, n),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(table)), labels, fontsize=8)
    ax.set_ylabel(f"prompts needed for {delta * PP:g} p.p.\n(t test, power and alpha as planned)")
    measured = table[table["correlation_source"].str.startswith("measured")]
    row = measured.iloc[0] if len(measured) else table.iloc[-1]
    un = int(table["n_t"].iloc[0])
    ax.set_title(
        f"{title_prefix}the paired test needs {int(row['n_t']):,} prompts at rho={row['correlation']:.2f} "
        f"({row['correlation_source']}) vs {un:,} unpaired",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
