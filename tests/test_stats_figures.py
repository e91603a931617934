"""Figures for the variance notebook: they build, state a computed finding, and save nothing."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from ssdlib.plots import save_figure
from ssdlib.stats import beta_prompt_means, simulate_samples, variance_components
from ssdlib.stats.figures import (
    plot_mde_vs_n,
    plot_required_n_vs_delta,
    plot_se_vs_k,
    plot_variance_components,
)
from ssdlib.stats.power import minimum_detectable_effect, required_prompts


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _samples(var_between, seed=0):
    rng = np.random.default_rng(seed)
    p = beta_prompt_means(400, 0.5, var_between, rng)
    return simulate_samples(p, 4, rng, source=rng.choice(["aime", "omni"], 400))


def test_variance_figure_title_states_the_share(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    samples = _samples(0.2)
    share = variance_components(samples)["between_share"].item()
    fig = plot_variance_components(samples)
    title = fig.axes[0].get_title()
    assert f"{share:.0%}" in title and "add prompts" in title
    assert [t.get_text().split("\n")[0] for t in fig.axes[0].get_xticklabels()] == [
        "aime",
        "omni",
        "overall",
    ]
    assert list(tmp_path.iterdir()) == []  # the figure function writes nothing
    assert len(save_figure(fig, tmp_path / "figs", "vc")) == 2


def test_variance_figure_within_dominated_and_unidentifiable():
    assert "more samples" in plot_variance_components(_samples(0.02)).axes[0].get_title()
    single = _samples(0.2).query("sample_idx == 0")
    with pytest.raises(ValueError, match="two or more samples"):
        plot_variance_components(single)


def test_se_vs_k_title_reports_the_cut():
    fig = plot_se_vs_k(0.2, 0.05, n=1000, K_ref=8)
    se1, se8 = np.sqrt((0.2 + 0.05) / 1000) * 100, np.sqrt((0.2 + 0.05 / 8) / 1000) * 100
    title = fig.axes[0].get_title()
    assert f"{se1:.2f} to {se8:.2f} p.p." in title and "only" in title


def test_mde_figure_marks_budgets_and_states_mde():
    fig = plot_mde_vs_n(0.2, 0.05, budgets={"quick": 300, "full": 1000})
    ax = fig.axes[0]
    mde = minimum_detectable_effect(1000, var_between_a=0.2, var_within_a=0.05) * 100
    assert f"{mde:.1f} p.p. at K=1" in ax.get_title()
    assert len(ax.get_lines()) == 4 + 2  # one line per K + one per budget


def test_required_n_figure_states_need_against_budget():
    fig = plot_required_n_vs_delta(0.2, 0.05, budgets=[300, 1000])
    need = int(np.ceil(required_prompts(0.05, var_between_a=0.2, var_within_a=0.05)))
    title = fig.axes[0].get_title()
    assert f"{need:,} prompts at K=1" in title and "n=1000" in title
