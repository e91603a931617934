"""Figure for notebook 01_data: where the rows come from and where they went."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssdlib.plots import apply_style

_SPLITS = ("train", "val", "val300")


def source_finding(report) -> str:
    """One-line finding for the title: the biggest val contributor and the biggest drop reason."""
    table = report.table
    parts = []
    n_val = int(table["n_val"].sum())
    if n_val:
        top = table.sort_values(["n_val", "source"], ascending=[False, True]).iloc[0]
        parts.append(
            f"{top['source']} supplies {100 * top['n_val'] / n_val:.0f}% of val ({n_val} rows)"
        )
    drops = report.drops
    if len(drops):
        d = drops.sort_values(["count", "source", "reason"], ascending=[False, True, True]).iloc[0]
        parts.append(f"largest drop: {d['reason']} in {d['source']} ({int(d['count']):,} rows)")
    else:
        parts.append("no rows dropped")
    return "; ".join(parts)


def plot_source_counts(report):
    """Two panels: rows per source by stage (log scale), and each split's source composition.

    ``report`` is a ``DataReport``. Returns the Figure (not saved: use ssdlib.plots.save_figure).
    """
    import matplotlib.pyplot as plt

    apply_style()
    table = report.table.sort_values("source").reset_index(drop=True)
    fig, (ax_rows, ax_mix) = plt.subplots(
        1, 2, figsize=(11.0, 0.45 * len(table) + 2.6), gridspec_kw={"width_ratios": [1.3, 1.0]}
    )

    # Stages in greys (dropped hatched) so they cannot be confused with the source colours on the right.
    stages = [
        ("n_raw", "loaded", "#c8c8c8", ""),
        ("n_dropped", "dropped", "#ffffff", "////"),
        ("n_available", "available", "#7a7a7a", ""),
        ("selected", "selected (train+val)", "#1f1f1f", ""),
    ]
    data = table.assign(selected=table["n_train"] + table["n_val"])
    y = np.arange(len(data))
    h = 0.8 / len(stages)
    for i, (col, label, color, hatch) in enumerate(stages):
        # log axis: a zero count is left empty rather than breaking the scale
        vals = data[col].to_numpy(dtype=float)
        ax_rows.barh(
            y + (i - (len(stages) - 1) / 2) * h,
            np.where(vals > 0, vals, np.nan),
            height=h,
            label=label,
            color=color,
            hatch=hatch,
            edgecolor="#555555",
            linewidth=0.5,
        )
    ax_rows.set_yticks(y, data["source"])
    ax_rows.invert_yaxis()
    ax_rows.set_xscale("log")
    ax_rows.set_xlabel("rows (log scale)")
    ax_rows.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, fontsize=8, frameon=False
    )
    ax_rows.set_title("Rows per source, by stage", fontsize=10, fontweight="normal")

    comp = pd.DataFrame(
        {s: data.set_index("source")[f"n_{s}"] for s in _SPLITS}
    ).T  # splits x sources
    totals = comp.sum(axis=1).replace(0, np.nan)
    shares = comp.div(totals, axis=0).fillna(0.0)
    left = np.zeros(len(shares))
    for source in shares.columns:
        ax_mix.barh(range(len(shares)), shares[source], left=left, label=source)
        left += shares[source].to_numpy()
    labels = [f"{s} (n={int(comp.loc[s].sum())})" for s in shares.index]
    ax_mix.set_yticks(range(len(shares)), labels)
    ax_mix.invert_yaxis()
    ax_mix.set_xlim(0, 1)
    ax_mix.set_xlabel("share of split")
    ax_mix.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, fontsize=8, frameon=False
    )
    ax_mix.set_title("Source mix of each split", fontsize=10, fontweight="normal")

    fig.suptitle(source_finding(report))
    fig.tight_layout()
    return fig
