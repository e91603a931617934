"""Papermill runs of 05_train and 06_eval on the smoke profile: what they must leave behind.

Uses the session's ``smoke_pipeline`` (conftest.py: 01 -> 06 once, into a temporary outputs
folder). They start vLLM: on the shared CPU box run them under the vLLM lock:
    flock /tmp/ssd-vllm.lock pytest -m slow tests/test_notebooks_train_eval.py
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ssdlib import config
from ssdlib.train import list_checkpoints, read_log

pytestmark = pytest.mark.slow


def _manifest(out, nb):
    m = json.loads((out / "manifests" / f"{nb}.json").read_text())
    assert m["status"] == "ok", m["error"]
    return m


def test_05_train_leaves_a_loadable_checkpoint_and_its_evidence(smoke_pipeline, figure):
    out = smoke_pipeline
    _manifest(out, "05_train")
    p = config.load_params("05_train", "smoke")
    run = out / "checkpoints" / p.run_name
    ckpts = list_checkpoints(run)
    assert ckpts and ckpts[-1][0] == p.train.max_steps
    assert [s for s, _ in ckpts] == list(
        range(p.train.save_steps, p.train.max_steps + 1, p.train.save_steps)
    )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ssdlib.models import resolve_model

    model = AutoModelForCausalLM.from_pretrained(ckpts[-1][1])
    base = AutoModelForCausalLM.from_pretrained(resolve_model(p.model.id))
    moved = [
        n
        for (n, w), (_, b) in zip(model.named_parameters(), base.named_parameters())
        if not torch.equal(w, b)
    ]
    assert moved, "the last checkpoint equals the base model: training did not change the weights"
    AutoTokenizer.from_pretrained(ckpts[-1][1])  # standalone: the tokenizer travels with it
    record = json.loads((run / "run.json").read_text())
    assert (
        record["ssd_config_id"] == p.ssd_decode.config_id
        and record["train_file"] == "train_clean.parquet"
    )
    # The SSD set: every drawn sample minus degenerate / over-long ones, nothing selected on correctness.
    report = json.loads((out / "data" / "05_ssd_report.json").read_text())
    ds = pd.read_parquet(out / "data" / "05_ssd_dataset.parquet")
    assert len(ds) == report["n_kept"] == report["n_samples"] - sum(report["dropped"].values())
    assert report["n_samples"] == min(
        p.n_prompts, len(pd.read_parquet(out / "data" / "train_clean.parquet"))
    )
    assert (ds.n_tokens_total <= p.train.max_length).all()
    # No correctness filter: the kept set has the monitoring accuracy of what was kept, wrong answers
    # included (the smoke model is right on few problems, so a filter would leave almost nothing).
    assert ds.correct.isin([0.0, 1.0]).all() and (ds.correct == 0).any()
    mon = pd.read_csv(out / "tables" / "05_ssd_monitoring.csv").set_index("metric")
    assert mon.loc["samples", "all_samples"] == report["n_samples"] and mon.loc[
        "samples", "kept"
    ] == len(ds)
    assert mon.loc["accuracy (monitoring only)", "kept"] == pytest.approx(ds.correct.mean())
    table = pd.read_csv(out / "tables" / "05_checkpoints.csv")
    assert table.step.tolist() == [s for s, _ in ckpts] and table.weights.all()
    log = read_log(run)
    assert log.loss.notna().sum() == p.train.max_steps
    for name in (
        "05_ssd_lengths",
        "05_training_curve",
        "05_ssd_token_weighted_lengths",
        "05_training_curve_control",
    ):
        figure(out, name)
    # Token shares: each category's share of samples and of tokens, each column summing to 1.
    shares = pd.read_csv(out / "tables" / "05_ssd_token_shares.csv").set_index("category")
    cats = ["finished", "length-stopped", "dropped"]
    assert shares.loc[cats, "share_of_samples"].sum() == pytest.approx(1.0)
    assert shares.loc[cats, "share_of_tokens"].sum() == pytest.approx(1.0)
    assert shares.loc[cats, "samples"].sum() == report["n_samples"]
    # The control: same steps, its own folder marked as the control, data drawn at T=1 untruncated.
    from ssdlib.train.run import find_control_run

    ctrl = find_control_run(out / "checkpoints", p.run_name)
    assert ctrl is not None and ctrl.name == p.control_run_name
    assert [s for s, _ in list_checkpoints(ctrl)] == [s for s, _ in ckpts]
    crec = json.loads((ctrl / "run.json").read_text())
    assert crec["ssd_config_id"] == p.control_decode.config_id and crec["train"] == record["train"]
    d = crec["ssd_decode"]
    assert (d["temperature"], d["top_p"], d["top_k"], d["min_p"]) == (1.0, 1.0, 0, 0.0)
    creport = json.loads((out / "data" / "05_control_report.json").read_text())
    assert (
        creport["config_id"] == p.control_decode.config_id
        and creport["n_samples"] == report["n_samples"]
    )


def test_05_rerun_resumes_instead_of_redoing(smoke_pipeline):
    from ssdlib import runs

    out = smoke_pipeline
    p = config.load_params("05_train", "smoke")
    run = out / "checkpoints" / p.run_name
    stamps = {c: c.stat().st_mtime for _, c in list_checkpoints(run)}
    log_lines = (run / "train_log.jsonl").read_text()
    store = sorted((out / "generations").rglob(f"{p.ssd_decode.config_id}*.jsonl"))
    sizes = {f: f.stat().st_size for f in store}
    res = runs.run_notebook("05_train", "smoke")
    assert res.status == "ok", res.error
    assert {c: c.stat().st_mtime for _, c in list_checkpoints(run)} == stamps  # no retraining
    assert (run / "train_log.jsonl").read_text() == log_lines
    assert {f: f.stat().st_size for f in store} == sizes  # no regeneration
    assert res.seconds < 120


def test_06_eval_two_tiers_declared_contrasts_and_holm(smoke_pipeline, figure):
    from ssdlib.verdict.contrasts import family

    out = smoke_pipeline
    _manifest(out, "06_eval")
    p = config.load_params("06_eval", "smoke")
    steps = [s for s, _ in list_checkpoints(out / "checkpoints" / p.run_name)]
    assert steps
    val, val300 = (pd.read_parquet(out / "data" / f"{b}.parquet") for b in ("val", "val300"))
    n = {"screening": len(val300), "confirmation": len(val) - len(val300)}
    ckpts = [f"ckpt-{s}" for s in steps]
    graded = pd.read_parquet(out / "data" / "06_graded.parquet")
    # Disjoint tiers: screening rows on val300 only, confirmation rows never on val300.
    assert set(graded[graded.tier == "screening"].prompt_id) <= set(val300.id)
    assert not set(graded[graded.tier == "confirmation"].prompt_id) & set(val300.id)
    res = {t: pd.read_csv(out / "tables" / f"06_results_{t}.csv") for t in n}
    assert res["screening"].model.tolist() == [f"baseline: {p.baseline}", "base", *ckpts]
    assert res["screening"].step.dropna().astype(int).tolist() == [0, *steps]
    for t, table in res.items():
        assert (table.n_prompts == n[t]).all() and (
            table.tier == t
        ).all()  # one tier, one prompt set per table
        assert {f"pass@{k}" for k in range(1, p.eval_decode.n + 1)} <= set(table.columns)
    # Candidates: read from screening by the declared rule; confirmed with the base model.
    screen_acc = res["screening"].set_index("model").loc[ckpts, "accuracy"]
    best = screen_acc[screen_acc == screen_acc.max()].index[-1]  # ties go to the later step
    confirmed = res["confirmation"].model.tolist()
    candidates = [m for m in confirmed[2:] if m.startswith("ckpt-")]
    assert confirmed[:2] == [f"baseline: {p.baseline}", "base"] and candidates == [best]
    controls = (
        {c: f"control-{c.removeprefix('ckpt-')}" for c in candidates} if p.control.enabled else {}
    )
    assert confirmed[2:] == candidates + list(controls.values())
    # The declared family, Holm within each tier, verdict consistent with the adjusted p and CI.
    for t in n:
        con = pd.read_csv(out / "tables" / f"06_contrasts_{t}.csv")
        cands = ckpts if t == "screening" else candidates
        declared = family(
            p.contrasts,
            cands,
            baseline_label=f"baseline: {p.baseline}",
            control_of=controls if t == "confirmation" else None,
        )
        assert list(zip(con.contrast, con.challenger, con.reference)) == declared
        assert (con.n_shared == n[t]).all() and (
            con.prompt_set == ("val300" if t == "screening" else "val - val300")
        ).all()
        ok = (
            con.p_value.notna()
        )  # NaN: the test could not be computed (undetermined), not in the family
        assert (con.p_holm[ok] >= con.p_value[ok] - 1e-12).all() and (
            con.family_size == ok.sum()
        ).all()
        sig = con.verdict.isin(["better", "worse"])
        assert (sig == (con.p_holm < p.alpha)).all()
        assert ((con.ci_adj_low > 0) | (con.ci_adj_high < 0))[sig].all()
        assert (
            con["diff"] - (con.accuracy_paired - con.reference_accuracy_paired)
        ).abs().max() < 1e-9
    verdict = pd.read_csv(out / "tables" / "06_verdict.csv")
    assert (verdict.tier == "confirmation").all() and verdict.summary.str.contains(
        "shared prompts"
    ).all()
    sweep = pd.read_csv(out / "tables" / "06_t_sweep_screening.csv")
    temps = sorted(set(p.t_eval_sweep) | {p.eval_decode.temperature})
    assert len(sweep) == (1 + len(steps)) * len(temps) and "p_holm" in sweep
    for fig in (
        "verdict_confirmation",
        "accuracy_by_step_screening",
        "t_sweep_screening",
        "breakdown_confirmation",
        "rates_screening",
        "rates_confirmation",
    ):
        figure(out, f"06_{fig}")
    lf = pd.read_csv(out / "tables" / "06_lockfork_verdict.csv")
    assert len(lf) == 1 and lf.checkpoint.iloc[0] == f"ckpt-{steps[-1]}"
    assert lf.verdict.iloc[0].startswith("locks ") and "forks " in lf.verdict.iloc[0]
    assert lf.n_responses.iloc[0] == p.lockfork.n_responses
    table = pd.read_csv(out / "tables" / "06_lockfork.csv")
    assert set(table["class"]) == {"lock", "middle", "fork", "all"}
    for fig in ("entropy_by_class", "entropy_scatter", "lock_tail_mass"):
        figure(out, f"06_lockfork_{fig}")


def test_06_control_pass_at_k_and_difficulty(smoke_pipeline, figure):
    """#11: the control beside SSD (accuracy and lock/fork on shared classes), pass@k with n >= 2,
    difficulty by the base model's own pass rate."""
    out = smoke_pipeline
    p = config.load_params("06_eval", "smoke")
    last = list_checkpoints(out / "checkpoints" / p.run_name)[-1][0]
    acc = pd.read_csv(out / "tables" / "06_control_accuracy.csv")
    assert (
        set(acc.tier) == {"screening", "confirmation"}
        and (acc.control == "control-" + acc.ssd.str[5:]).all()
    )
    assert (acc.ssd_minus_control_ci_low <= acc.ssd_minus_control_ci_high).all()
    lf = pd.read_csv(out / "tables" / "06_lockfork_verdict.csv").iloc[0]
    assert (
        lf.classify_on == "mean"
        and lf.control == f"control-{last}"
        and "SSD - control" in lf.ssd_minus_control
    )
    sbs = pd.read_csv(out / "tables" / "06_lockfork_side_by_side.csv")
    assert set(sbs.model) == {"SSD", "control"}
    # Shared classes: the same positions per class for SSD and the control.
    per = sbs.pivot_table(index="class", columns="model", values="n_positions")
    assert (per["SSD"] == per["control"]).all()
    pk = pd.read_csv(out / "tables" / "06_pass_at_k_screening.csv")
    n = max(p.pass_at_k.n, p.eval_decode.n)
    assert n >= 2 and pk.k.max() == n and set(pk.subset) >= {"all prompts"}
    assert {"base", f"control-{acc.ssd.iloc[0][5:]}"} <= set(pk.model)
    by_diff = pd.read_csv(out / "tables" / "06_by_difficulty_confirmation.csv")
    assert by_diff.difficulty.isin(["0 (never)", "0-25%", "25-50%", "50-75%", "75-100%"]).all()
    for fig in ("pass_at_k_screening", "difficulty_confirmation", "lockfork_ssd_vs_control"):
        figure(out, f"06_{fig}")
