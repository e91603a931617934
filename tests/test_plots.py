"""The one way figures are saved: PNG + SVG, a title required, and the title stored in both files."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from ssdlib import plots


def test_title_travels_in_both_files(tmp_path):
    plots.apply_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    fig.suptitle("SSD beats the baseline by 3 p.p. (val300, n=300)")
    png, svg = plots.save_figure(fig, tmp_path, "f")
    plt.close(fig)
    assert (
        plots.figure_title(png)
        == plots.figure_title(svg)
        == "SSD beats the baseline by 3 p.p. (val300, n=300)"
    )


def test_a_figure_without_a_title_is_refused(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with pytest.raises(ValueError, match="has no title"):
        plots.save_figure(fig, tmp_path, "untitled")
    plt.close(fig)
    assert not list(tmp_path.iterdir())
