"""The 06 verdict as a referee would check it: the family-wise error on pure noise, selection kept
off the confirmation prompts, numbers that agree, and the edge cases that used to read "better"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ssdlib.stats import beta_prompt_means, paired_comparison, simulate_samples
from ssdlib.stats.multiplicity import adjust_family, decide, holm, holm_ci_levels
from ssdlib.verdict.contrasts import (
    contrast_table,
    family,
    headline,
    simulate_noise_family,
    verdict_sentence,
)
from ssdlib.verdict.tiers import choose_baseline, select_candidates, tier_sets

DECLARED = ["ssd_vs_baseline", "ssd_vs_base", "base_vs_baseline"]


def _arm(p, rng, label, K=1):
    return simulate_samples(p, K, rng, config_id=f"cfg-{label}").assign(model=label)


def test_noise_only_family_false_positive_rate_is_at_most_alpha():
    """6 noise-only checkpoints -> 13 declared contrasts. Unadjusted 95% CIs flag some contrast in far
    more than 5% of replications; Holm keeps the family-wise rate at alpha (+ Monte Carlo slack)."""
    reps = 1500
    res = simulate_noise_family(6, 120, reps=reps, seed=20261201)
    slack = 3 * np.sqrt(0.05 * 0.95 / reps)
    assert res["family_size"] == 13
    assert res["holm"] <= 0.05 + slack, res
    assert res["unadjusted"] > 0.05 + slack, res  # the reading this replaces fails the same check


def test_simulation_makes_the_same_decisions_as_contrast_table():
    """The fast simulator and the table 06 prints agree on one replication's data."""
    rng = np.random.default_rng(5)
    p = beta_prompt_means(60, 0.45, 0.2, rng)
    ckpts = ["ckpt-1", "ckpt-2"]
    arms = {"baseline": _arm(p, rng, "baseline"), "base": _arm(p, rng, "base")}
    arms.update(
        {c: _arm(np.clip(p + 0.25, 0, 1), rng, c) for c in ckpts}
    )  # a real effect: something to find
    rows = family(DECLARED, ckpts)
    t = contrast_table(arms, rows, tier="confirmation", prompt_set="val - val300")
    for r, (_, c, ref) in zip(t.itertuples(), rows):
        d = (
            arms[c].set_index("prompt_id")["correct"].astype(float)
            - arms[ref].set_index("prompt_id")["correct"].astype(float)
        ).to_numpy()
        assert r.diff == pytest.approx(d.mean())
        assert r.p_value == pytest.approx(sps.ttest_1samp(d, 0).pvalue)
    assert t.verdict.isin(["better"]).sum() >= 2


def test_family_has_the_three_declared_contrasts_and_names_each_row():
    rows = family(DECLARED, ["ckpt-50", "ckpt-100"], baseline_label="baseline: g")
    assert rows == [
        ("ssd_vs_baseline", "ckpt-50", "baseline: g"),
        ("ssd_vs_baseline", "ckpt-100", "baseline: g"),
        ("ssd_vs_base", "ckpt-50", "base"),
        ("ssd_vs_base", "ckpt-100", "base"),
        ("base_vs_baseline", "base", "baseline: g"),
    ]
    ctl = family(
        ["ssd_vs_control"], ["ckpt-50", "ckpt-100"], control_of={"ckpt-100": "control-100"}
    )
    assert ctl == [("ssd_vs_control", "ckpt-100", "control-100")]
    with pytest.raises(ValueError, match="unknown contrasts"):
        family(["ssd_vs_everything"], ["ckpt-1"])


def test_holm_matches_statsmodels_and_ci_levels_agree_with_verdicts():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for _ in range(25):  # statsmodels' multipletests (the oracle) costs ~0.2 s a call
        m = int(rng.integers(1, 9))
        n = int(rng.integers(5, 60))
        d = rng.normal(rng.normal(0, 0.04, m)[:, None], 0.3, (m, n))  # per-prompt differences
        diff, se = d.mean(1), d.std(1, ddof=1) / np.sqrt(n)
        p = 2 * sps.t.sf(np.abs(diff / se), n - 1)
        table = adjust_family(
            pd.DataFrame({"diff": diff, "se_paired": se, "p_value": p, "n_shared": n})
        )
        assert table.p_holm.to_numpy() == pytest.approx(multipletests(p, method="holm")[1])
        excludes_zero = (table.ci_adj_low > 0) | (table.ci_adj_high < 0)
        significant = table.verdict.isin(["better", "worse"])
        assert (excludes_zero == significant).all(), table
        assert (
            np.sign(table["diff"][significant])
            == np.where(table.verdict[significant] == "better", 1, -1)
        ).all()


def test_holm_ci_levels_by_hand():
    # p sorted: 0.001 (rank 1, alpha/3), 0.02 (rank 2, alpha/2 = 0.025: rejected), 0.04 (rank 3, alpha: rejected)
    assert holm_ci_levels([0.02, 0.001, 0.04]) == pytest.approx(
        [1 - 0.05 / 2, 1 - 0.05 / 3, 1 - 0.05]
    )
    # 0.03 at rank 2 exceeds 0.025: the step-down stops there; rank 3 gets the same level as rank 2.
    assert holm_ci_levels([0.001, 0.03, 0.04]) == pytest.approx(
        [1 - 0.05 / 3, 1 - 0.05 / 2, 1 - 0.05 / 2]
    )
    assert np.isnan(holm([np.nan, 0.01])[0]) and holm([np.nan, 0.01])[1] == pytest.approx(0.01)


def _pair(a_correct, b_correct):
    ids = [f"p{i}" for i in range(len(a_correct))]

    def mk(c, cfg):
        return pd.DataFrame({"prompt_id": ids, "sample_idx": 0, "config_id": cfg, "correct": c})

    return mk(np.asarray(a_correct, float), "a"), mk(np.asarray(b_correct, float), "b")


def test_four_prompts_three_flips_is_not_better_with_t():
    a, b = _pair([0, 0, 0, 1], [1, 1, 1, 1])
    pc = paired_comparison(a, b)  # default is now the t test
    assert pc["test"] == "t" and pc["p_value"] == pytest.approx(0.0577, abs=1e-3)
    assert paired_comparison(a, b, test="z")["p_value"] == pytest.approx(0.00270, abs=1e-4)
    t = contrast_table(
        {"ref": a, "new": b},
        [("ssd_vs_baseline", "new", "ref")],
        tier="confirmation",
        prompt_set="val - val300",
    )
    assert t.verdict.iloc[0] == "no detectable difference"


def test_zero_se_and_too_few_prompts_are_undetermined():
    a, b = _pair([0, 1, 0, 1], [1, 1, 1, 1])
    b.loc[[0, 2], "correct"] = 1.0
    a2, b2 = _pair([0, 0, 0, 0], [1, 1, 1, 1])  # every difference is exactly +1: SE = 0
    t = contrast_table(
        {"ref": a2, "new": b2},
        [("ssd_vs_baseline", "new", "ref")],
        tier="screening",
        prompt_set="val300",
    )
    assert t.verdict.iloc[0] == "undetermined" and t["diff"].iloc[0] == 1.0
    one = contrast_table(
        {"ref": a2.head(1), "new": b2.head(1)},
        [("ssd_vs_baseline", "new", "ref")],
        tier="screening",
        prompt_set="val300",
    )
    assert one.verdict.iloc[0] == "undetermined" and one.n_shared.iloc[0] == 0
    assert "cannot be computed" in verdict_sentence(one.iloc[0].to_dict())
    assert decide(0.1, 0.001, 0.0) == "undetermined" and decide(0.1, np.nan, 0.1) == "undetermined"


def test_sentence_numbers_are_the_paired_table_numbers():
    """The model's accuracy in the sentence is its accuracy on the SHARED prompts, not on all of its own."""
    rng = np.random.default_rng(1)
    p = beta_prompt_means(40, 0.4, 0.2, rng)
    ref = _arm(p, rng, "baseline")
    new = _arm(p, rng, "ckpt-6")
    new_extra = pd.concat(
        [new, _arm(np.ones(10), rng, "ckpt-6").assign(prompt_id=lambda d: "x" + d.prompt_id)]
    )
    t = contrast_table(
        {"baseline: b": ref, "ckpt-6": new_extra},
        [("ssd_vs_baseline", "ckpt-6", "baseline: b")],
        tier="confirmation",
        prompt_set="val - val300",
    )
    row = t.iloc[0].to_dict()
    pc = paired_comparison(ref, new)
    assert (
        row["n_shared"] == 40 and row["accuracy"] > row["accuracy_paired"]
    )  # 10 extra easy prompts
    assert row["accuracy_paired"] == pytest.approx(pc["mean_b"])
    assert row["reference_accuracy_paired"] == pytest.approx(pc["mean_a"])
    assert row["diff"] == pytest.approx(row["accuracy_paired"] - row["reference_accuracy_paired"])
    s = verdict_sentence(row)
    assert f"{row['accuracy_paired']:.1%}" in s and f"{row['reference_accuracy_paired']:.1%}" in s
    assert f"{row['diff'] * 100:+.1f} p.p." in s and "on 40 shared prompts" in s
    assert f"{row['accuracy']:.1%}" not in s
    assert headline(t).startswith("confirmation (val - val300, family of 1)")


# ----------------------------------------------------------------------------- tiers


def _problems(ids):
    return pd.DataFrame({"id": ids, "problem": "q", "answer": "1"})


def test_tier_sets_are_disjoint_and_cover_val():
    val = _problems([f"v{i}" for i in range(10)])
    sets = tier_sets(val, _problems(["v1", "v4", "v7"]))
    assert list(sets["screening"].id) == ["v1", "v4", "v7"]
    assert not set(sets["screening"].id) & set(sets["confirmation"].id)
    assert set(sets["screening"].id) | set(sets["confirmation"].id) == set(val.id)
    with pytest.raises(ValueError, match="not in val"):
        tier_sets(val, _problems(["zz"]))
    with pytest.raises(ValueError, match="empty"):
        tier_sets(val, val)


def _graded(rng, screen_acc: dict, confirm_acc: dict, screen_ids, confirm_ids):
    rows = []
    for ids, acc in ((screen_ids, screen_acc), (confirm_ids, confirm_acc)):
        for (model, step), a in acc.items():
            for pid in ids:
                rows.append(
                    {
                        "model": model,
                        "step": step,
                        "prompt_id": pid,
                        "sample_idx": 0,
                        "correct": float(rng.random() < a),
                    }
                )
    return pd.DataFrame(rows)


def test_candidate_selection_reads_only_screening_rows():
    rng = np.random.default_rng(0)
    s_ids, c_ids = [f"s{i}" for i in range(200)], [f"c{i}" for i in range(200)]
    screen = {("base", 0): 0.3, ("ckpt-3", 3): 0.6, ("ckpt-6", 6): 0.4}
    g = _graded(
        rng, screen, {("base", 0): 0.3, ("ckpt-3", 3): 0.1, ("ckpt-6", 6): 0.9}, s_ids, c_ids
    )
    assert select_candidates(g, s_ids, rule="best_screening") == ["ckpt-3"]
    # Rewrite every confirmation row: the choice must not move.
    g2 = g.copy()
    g2.loc[g2.prompt_id.isin(c_ids), "correct"] = 1.0 - g2.loc[g2.prompt_id.isin(c_ids), "correct"]
    assert select_candidates(g2, s_ids, rule="best_screening") == ["ckpt-3"]
    # Rewrite the screening rows of ckpt-6: now it wins.
    g3 = g.copy()
    g3.loc[g3.prompt_id.isin(s_ids) & (g3.model == "ckpt-6"), "correct"] = 1.0
    assert select_candidates(g3, s_ids, rule="best_screening") == ["ckpt-6"]
    assert select_candidates(g, s_ids, rule="last") == ["ckpt-6"]
    assert select_candidates(g, s_ids, rule="best_screening", count=2) == ["ckpt-3", "ckpt-6"]
    assert select_candidates(g, s_ids, rule="steps", steps=[6]) == ["ckpt-6"]
    with pytest.raises(ValueError, match="not screened"):
        select_candidates(g, s_ids, rule="steps", steps=[9])


def test_data_chosen_baseline_is_chosen_on_val300_only():
    rng = np.random.default_rng(2)
    s_ids, c_ids = [f"s{i}" for i in range(100)], [f"c{i}" for i in range(100)]
    rows = []
    for cid, (a_s, a_c) in {"c-precise": (0.2, 0.9), "c-general": (0.6, 0.1)}.items():
        for ids, a in ((s_ids, a_s), (c_ids, a_c)):
            rows += [
                {
                    "config_id": cid,
                    "prompt_id": p,
                    "sample_idx": 0,
                    "correct": float(rng.random() < a),
                }
                for p in ids
            ]
    g03 = pd.DataFrame(rows)
    assert (
        choose_baseline(g03, {"precise": "c-precise", "general": "c-general"}, s_ids) == "general"
    )


# ----------------------------------------------------------------------------- 03: the seeds' findings


def test_findings_table_tests_each_declared_claim_paired_with_holm():
    from ssdlib.verdict.findings import findings_table

    rng = np.random.default_rng(11)
    p = beta_prompt_means(300, 0.45, 0.2, rng)
    graded = pd.concat(
        [
            simulate_samples(p, 1, rng, config_id="c-precise"),
            simulate_samples(np.clip(p + 0.2, 0, 1), 1, rng, config_id="c-general"),
            simulate_samples(np.clip(p + 0.2, 0, 1), 1, rng, config_id="c-nopp"),
        ]
    )
    names = {"precise": "c-precise", "general": "c-general", "general_no_pp": "c-nopp"}
    t = findings_table(
        graded, names, [("general", "precise"), ("general", "general_no_pp")], budget="val300"
    )
    assert list(t.contrast) == ["general vs precise", "general vs general_no_pp"]
    assert (t.family_size == 2).all() and (t.prompt_set == "val300").all()
    assert t.verdict.tolist() == ["better", "no detectable difference"]
    with pytest.raises(ValueError, match="no decode named 'x'"):
        findings_table(graded, names, [("general", "x")], budget="val")
