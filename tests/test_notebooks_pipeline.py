"""Papermill runs of the notebooks on the smoke profile: what each one must leave behind.

The ``smoke_pipeline`` fixture (conftest.py) executes every notebook once per session; these
tests read the recorded outputs, Recommenders-style, and check them against the methodology.
"""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from ssdlib import config
from ssdlib.generation import baseline_decodes, distinct
from ssdlib.runs import available_notebooks, notebook_path
from ssdlib.schema import GRADE_COLUMNS, SAMPLE_COLUMNS

pytestmark = pytest.mark.slow


def test_notebooks_are_committed_without_outputs():
    for nb in available_notebooks():
        cells = nbformat.read(notebook_path(nb), as_version=4).cells
        code = [c for c in cells if c.cell_type == "code"]
        assert not any(c.outputs or c.execution_count for c in code), nb
        assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1, nb


def test_every_run_has_an_ok_manifest(smoke_pipeline):
    for nb in available_notebooks():
        m = json.loads((smoke_pipeline / "manifests" / f"{nb}.json").read_text())
        assert m["status"] == "ok" and m["error"] is None
        assert m["params"]["profile"] == "smoke"
        assert {"sha", "dirty"} <= set(m["git"])
        assert "pandas" in m["packages"] and m["finished"] >= m["started"]
        assert (smoke_pipeline / "notebooks" / f"{nb}.ipynb").exists()


def test_01_data_splits(smoke_pipeline, figure):
    data = smoke_pipeline / "data"
    train, val, val300 = (
        pd.read_parquet(data / f"{s}.parquet") for s in ("train", "val", "val300")
    )
    p = config.load_params("01_data", "smoke")
    assert len(train) == p.train.size
    assert len(val) == sum(p.val.budgets.values()) and len(val300) == sum(p.val300.budgets.values())
    assert set(val300.id) <= set(val.id)
    assert not set(train.id) & set(val.id)
    assert train.answer.str.len().gt(0).all()
    figure(smoke_pipeline, "01_source_counts")


def test_02_contamination_removes_flagged_train_rows(smoke_pipeline, figure):
    data = smoke_pipeline / "data"
    train = pd.read_parquet(data / "train.parquet")
    clean = pd.read_parquet(data / "train_clean.parquet")
    flagged = pd.read_parquet(data / "02_flagged_pairs.parquet")
    assert not set(clean.id) & set(flagged.train_id)
    assert len(clean) == len(train) - flagged.train_id.nunique()
    planted = pd.read_csv(smoke_pipeline / "tables" / "02_planted_recall.csv")
    # Reworded copies keep the answer: the answer-aware rule must catch every one of them.
    assert planted[planted.kind == "reworded"].flagged.all()
    # Labelled set (#13): held-out flag rate per category, before (v1) and after (v2).
    quality = pd.read_csv(smoke_pipeline / "tables" / "02_rule_quality.csv").set_index("category")
    assert quality.loc["pooled recall", "after"] >= 0.95 > quality.loc["pooled recall", "before"]
    dup = quality[quality.label == "duplicate"]
    assert (dup["after"] >= 0.85).all(), dup
    assert quality.loc["pooled precision", "after"] >= 0.95  # content-edit veto (edits.py)
    figure(smoke_pipeline, "02_best_match_hist")
    figure(smoke_pipeline, "02_closest_pairs")
    figure(smoke_pipeline, "02_category_recall")
    figure(smoke_pipeline, "02_pair_gallery")


def test_03_baselines_samples_grades_and_tables(smoke_pipeline, figure):
    p = config.load_params("03_baselines", "smoke")
    graded = pd.read_parquet(smoke_pipeline / "data" / "03_graded.parquet")
    assert set(SAMPLE_COLUMNS) | set(GRADE_COLUMNS) <= set(graded.columns)
    n_val = len(pd.read_parquet(smoke_pipeline / "data" / "val.parquet"))
    decodes = baseline_decodes(p)
    assert graded.config_id.nunique() == len(distinct(decodes))
    for d in distinct(decodes).values():  # names sharing a distribution share its samples
        sub = graded[graded.config_id == d.config_id]
        assert (
            len(sub) == n_val * d.n
        )  # exactly n samples per prompt: nothing lost, nothing doubled
        assert not sub.duplicated(["prompt_id", "sample_idx"]).any()
        assert (sub.n_tokens <= d.max_tokens).all()
    # a sample cut by the length cap is never credited
    assert not graded[graded.finish_reason == "length"].correct.any()
    for budget in ("val300", "val"):
        t = pd.read_csv(smoke_pipeline / "tables" / f"03_baselines_{budget}.csv")
        assert set(t.name) == set(decodes)
        assert t.accuracy.between(0, 1).all() and (t.se >= 0).all()
        assert (t.ci_low <= t.accuracy).all() and (t.accuracy <= t.ci_high).all()
        expected_prompts = len(pd.read_parquet(smoke_pipeline / "data" / f"{budget}.parquet"))
        assert (t.n_prompts == expected_prompts).all()  # the two budgets are never mixed
        for fig in ("temperature_sweep", "min_p_sweep", "rates", "lengths"):
            figure(smoke_pipeline, f"03_{fig}_{budget}")
        # The seeds' findings: declared pairs, paired on every prompt of the budget, Holm per budget.
        f = pd.read_csv(smoke_pipeline / "tables" / f"03_findings_{budget}.csv")
        assert list(zip(f.challenger, f.reference)) == [tuple(x) for x in p.findings]
        assert (f.n_shared == expected_prompts).all() and (f.prompt_set == budget).all()
        assert (f.verdict.isin(["better", "worse"]) == (f.p_holm < p.alpha)).all()
    figure(smoke_pipeline, "03_main_results")


def test_04_variance_headline_and_planner(smoke_pipeline, figure):
    p = config.load_params("04_variance", "smoke")
    comps = pd.read_csv(smoke_pipeline / "tables" / f"04_variance_components_{p.budget}.csv")
    overall = comps[comps.group == "all"].iloc[0]
    # Recompute the within-prompt variance from 03's samples of the preset (K-1 denominators).
    graded = pd.read_parquet(smoke_pipeline / "data" / "03_graded.parquet")
    ids = set(pd.read_parquet(smoke_pipeline / "data" / f"{p.budget}.parquet").id)
    mine = graded[
        graded.config_name.str.split(",").map(lambda ns: p.preset in ns)
        & graded.prompt_id.isin(ids)
    ]
    per_prompt = mine.groupby("prompt_id").correct.agg(lambda c: c.astype(float).var(ddof=1))
    assert overall.var_within == pytest.approx(per_prompt.mean())
    assert overall["mean"] == pytest.approx(mine.groupby("prompt_id").correct.mean().mean())
    head = pd.read_csv(smoke_pipeline / "tables" / f"04_headline_{p.budget}.csv").iloc[0]
    assert head.var_within == pytest.approx(
        overall.var_within
    ) or not head.variance_source.startswith("measured")
    # 04 plans the paired test 06 runs: unpaired first, then paired at the measured and assumed rho,
    # for this pilot's variances and at the seeds' settings (where the numbers are known in closed form).
    d = pd.read_csv(smoke_pipeline / "tables" / f"04_paired_vs_unpaired_{p.budget}.csv").fillna(
        {"correlation_source": ""}
    )
    seeds = d[d.variances.str.startswith("seeds")].reset_index(drop=True)
    assert seeds.correlation_source.tolist() == ["", "measured (smoke pilot)"] + [
        f"assumed {r:g}" for r in p.assumed_correlations
    ]
    assert round(seeds.n_normal.iloc[0]) == 1570
    assumed = seeds[seeds.correlation_source.str.startswith("assumed")]
    assert assumed.n_normal.round().tolist() == [903, 502, 369]
    for which in ("pilot", "seeds"):
        figure(smoke_pipeline, f"04_paired_vs_unpaired_{which}_{p.budget}")
    planner = pd.read_csv(smoke_pipeline / "tables" / f"04_budget_planner_{p.budget}.csv")
    assert set(planner.K) == set(p.k_grid)
    # The cheapest feasible row is the fewest generated tokens among the rows that fit (none if none fit).
    fits = planner[planner.fits]
    chosen = planner[planner.cheapest_feasible]
    assert len(chosen) == (1 if len(fits) else 0)
    if len(fits):
        assert chosen.tokens.iloc[0] == fits.tokens.min()
    for name in ("04_se_vs_k", "04_mde_vs_n", "04_required_n_vs_delta"):
        figure(smoke_pipeline, f"{name}_{p.budget}")
    measured = head.variance_source.startswith("measured")
    # the decomposition figure exists exactly when there were measured components to show
    assert (
        smoke_pipeline / "figures" / f"04_variance_components_{p.budget}.png"
    ).exists() == measured
    if not measured:  # a degenerate pilot is planned with the stated conservative variance
        assert (
            overall.var_between + overall.var_within
        ) == 0 and "Bernoulli" in head.variance_source
