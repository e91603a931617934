"""One figure style for the whole repository, and the one way figures are saved.

Every figure is written as PNG and SVG under ``outputs/<profile>/figures/`` and carries a
title that states the finding (the caller supplies it; this module only enforces that one exists).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg") if not matplotlib.get_backend().lower().startswith("module://") else None
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

PALETTE = "colorblind"


def apply_style() -> None:
    """Set the house style (seaborn whitegrid, colour-blind palette, readable sizes)."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    plt.rcParams.update(
        {
            "figure.figsize": (7.0, 4.2),
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.titlesize": 11,
            "axes.titleweight": "bold",
            "svg.fonttype": "none",
        }
    )


def save_figure(fig, figures_dir: str | Path, name: str) -> list[Path]:
    """Save ``fig`` as ``<name>.png`` and ``<name>.svg`` in ``figures_dir``; return both paths.

    Refuses a figure without a title (suptitle or first axes title): a figure in this repo
    must say what it shows.
    """
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    if not title and fig.axes:
        title = fig.axes[0].get_title()
    if not title.strip():
        raise ValueError(f"figure {name!r} has no title: state the finding in the title")
    out = Path(figures_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    for p in paths:
        # the title travels inside the file (PNG text chunk, SVG dc:title): reports and tests
        # read what a figure claims without re-running the notebook
        fig.savefig(p, metadata={"Title": title.strip()})
    return paths


def figure_title(path: str | Path) -> str:
    """The title :func:`save_figure` stored in a PNG or SVG ("" if none)."""
    path = Path(path)
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(path) as im:
            return im.text.get("Title", "")
    import xml.etree.ElementTree as ET

    node = ET.parse(path).getroot().find(".//{http://purl.org/dc/elements/1.1/}title")
    return node.text or "" if node is not None else ""
