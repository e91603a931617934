"""Pre-registered contrasts of 06 and their paired, multiplicity-adjusted verdicts.

The 06 params declare, before any data, which comparisons make up the family:

- ``ssd_vs_baseline``  checkpoint at the eval decode vs the decode-only baseline (03, base model):
  does SSD + its eval decode beat the best decoding the study fixed in advance?
- ``ssd_vs_base``      checkpoint vs the base model at the SAME eval decode: the training effect,
  what "beyond temperature tuning" means.
- ``base_vs_baseline`` base model at the eval decode vs the baseline: the decode change alone.
- ``ssd_vs_control``   checkpoint vs the control fine-tune (T = 1, no truncation, same recipe) at the
  same step and decode: what SSD's truncation/temperature shift adds over plain self-training.

Each row is a paired t test on per-prompt mean accuracy over the prompts both arms were scored on
(Miller 2024): ``diff`` = challenger - reference (fraction; x100 for p.p.). Holm runs over the
rows of one tier's family (:func:`ssdlib.stats.multiplicity.adjust_family`); the verdict reads the
adjusted p-value and the printed CI is at the Holm level of its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ssdlib.stats import paired_comparison, prompt_means
from ssdlib.stats.multiplicity import adjust_family

CONTRASTS: dict[str, str] = {
    "ssd_vs_baseline": "checkpoint at eval decode vs the decode-only baseline",
    "ssd_vs_base": "checkpoint vs base model, same eval decode (training effect)",
    "base_vs_baseline": "base model at eval decode vs the baseline (decode change alone)",
    "ssd_vs_control": "checkpoint vs control fine-tune at the same step (what truncation adds)",
}

BASE = "base"
BASELINE = "baseline"

COLUMNS = [
    "tier",
    "prompt_set",
    "contrast",
    "challenger",
    "reference",
    "n_shared",
    "accuracy",
    "accuracy_paired",
    "reference_accuracy_paired",
    "diff",
    "se_paired",
    "p_value",
    "ci_low",
    "ci_high",
    "corr",
    "family_size",
    "p_holm",
    "ci_level",
    "ci_adj_low",
    "ci_adj_high",
    "verdict",
]


def family(
    contrasts: Sequence[str],
    candidates: Sequence[str],
    *,
    control_of: Mapping[str, str] | None = None,
    baseline_label: str = BASELINE,
    base_label: str = BASE,
) -> list[tuple[str, str, str]]:
    """The declared family as ``(contrast, challenger arm, reference arm)`` rows.

    Checkpoint contrasts get one row per candidate; ``base_vs_baseline`` one row. ``control_of``
    maps a candidate to its control arm; ``ssd_vs_control`` rows are made only for candidates that
    have one (a missing control is a smaller family, never a silent zero).
    """
    unknown = [c for c in contrasts if c not in CONTRASTS]
    if unknown:
        raise ValueError(f"unknown contrasts {unknown} (known: {', '.join(CONTRASTS)})")
    rows = []
    for c in contrasts:
        if c == "base_vs_baseline":
            rows.append((c, base_label, baseline_label))
            continue
        for cand in candidates:
            if c == "ssd_vs_baseline":
                rows.append((c, cand, baseline_label))
            elif c == "ssd_vs_base":
                rows.append((c, cand, base_label))
            elif c == "ssd_vs_control" and control_of and cand in control_of:
                rows.append((c, cand, control_of[cand]))
    return rows


def _accuracy(samples: pd.DataFrame) -> float:
    return float(prompt_means(samples)["mean"].mean()) if len(samples) else np.nan


def contrast_table(
    arms: Mapping[str, pd.DataFrame],
    rows: Sequence[tuple[str, str, str]],
    *,
    tier: str,
    prompt_set: str,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """One tier's family: a paired t test per row, Holm over the rows, verdicts and CIs that agree.

    ``arms``: arm label -> graded samples of that arm (one decode config each), already restricted
    to the tier's prompts. Columns: :data:`COLUMNS`. ``accuracy`` is the challenger's accuracy on
    all its prompts in the set; ``accuracy_paired`` / ``reference_accuracy_paired`` are both arms'
    accuracies on the shared prompts, the numbers ``diff`` is the difference of.
    """
    out = []
    for contrast, challenger, reference in rows:
        a, b = arms[reference], arms[challenger]
        for label, frame in ((reference, a), (challenger, b)):
            if frame["config_id"].nunique() > 1:
                raise ValueError(
                    f"arm {label!r} mixes decode configs {sorted(frame['config_id'].unique())}"
                )
        rec = {
            "tier": tier,
            "prompt_set": prompt_set,
            "contrast": contrast,
            "challenger": challenger,
            "reference": reference,
            "accuracy": _accuracy(b),
        }
        try:
            pc = paired_comparison(a, b, test="t", level=1 - alpha)
        except ValueError:  # fewer than 2 shared prompts: the test cannot be computed
            pc = None
        if pc is None:
            rec.update(
                n_shared=0,
                accuracy_paired=np.nan,
                reference_accuracy_paired=np.nan,
                diff=np.nan,
                se_paired=np.nan,
                p_value=np.nan,
                ci_low=np.nan,
                ci_high=np.nan,
                corr=np.nan,
            )
        else:
            rec.update(
                n_shared=int(pc["n"]),
                accuracy_paired=float(pc["mean_b"]),
                reference_accuracy_paired=float(pc["mean_a"]),
                diff=float(pc["diff"]),
                se_paired=float(pc["se_paired"]),
                p_value=float(pc["p_value"]),
                ci_low=float(pc["ci_low"]),
                ci_high=float(pc["ci_high"]),
                corr=float(pc["corr"]),
            )
        out.append(rec)
    table = adjust_family(pd.DataFrame(out), alpha)
    return table[[c for c in COLUMNS if c in table.columns]]


def verdict_sentence(row: Mapping) -> str:
    """One line per contrast, every number from the paired table (shared prompts only)."""
    if row["verdict"] == "undetermined" and not np.isfinite(row.get("diff", np.nan)):
        return (
            f"{row['tier']} ({row['prompt_set']}): {row['contrast']}: {row['challenger']} vs "
            f"{row['reference']}: cannot be computed ({int(row['n_shared'])} shared prompts) -> undetermined"
        )
    level = row["ci_level"] * 100
    return (
        f"{row['tier']} ({row['prompt_set']}): {row['contrast']}: {row['challenger']} "
        f"{row['accuracy_paired']:.1%} vs {row['reference']} {row['reference_accuracy_paired']:.1%} "
        f"on {int(row['n_shared'])} shared prompts: {row['diff'] * 100:+.1f} p.p. "
        f"[{level:.4g}% CI {row['ci_adj_low'] * 100:+.1f}, {row['ci_adj_high'] * 100:+.1f}], "
        f"p = {row['p_value']:.3g}, Holm p = {row['p_holm']:.3g} (family of {int(row['family_size'])}) "
        f"-> {row['verdict']}"
    )


def headline(table: pd.DataFrame, alpha: float = 0.05) -> str:
    """The study's answer in one line, read from the confirmation family only."""
    conf = table[table["tier"] == "confirmation"]
    if conf.empty:
        return "no confirmation contrasts were run"
    key = conf[conf["contrast"] == "ssd_vs_baseline"]
    sig = conf[conf["verdict"].isin(["better", "worse"])]
    what = (
        ", ".join(f"{r.contrast} ({r.challenger}): {r.verdict}" for r in sig.itertuples())
        if len(sig)
        else f"no contrast differs at Holm-adjusted alpha = {alpha:g}"
    )
    lead = ""
    if len(key):
        r = key.iloc[0]
        lead = f"SSD vs baseline: {r['verdict']} ({r['diff'] * 100:+.1f} p.p.); "
    return f"confirmation ({conf['prompt_set'].iloc[0]}, family of {int(conf['family_size'].iloc[0])}): {lead}{what}"


def simulate_noise_family(
    n_checkpoints: int,
    n_prompts: int,
    *,
    reps: int = 1000,
    K: int = 1,
    contrasts: Sequence[str] = ("ssd_vs_baseline", "ssd_vs_base", "base_vs_baseline"),
    alpha: float = 0.05,
    mean: float = 0.45,
    var_between: float = 0.215,
    seed: int = 0,
) -> dict[str, float]:
    """Family-wise false-positive rate of the declared family when nothing differs.

    Every arm (baseline, base, ``n_checkpoints`` checkpoints) draws K samples per prompt from the
    SAME per-prompt success probabilities (Beta with ``mean`` and ``var_between``; the default
    puts 87% of the variance between prompts, as the seeds measured), the family is built by
    :func:`family`, each row is the same
    paired t test as :func:`contrast_table`, and decisions come from
    :func:`ssdlib.stats.multiplicity.adjust_family`. Returns ``holm`` (share of replications with any
    better/worse verdict), ``unadjusted`` (share with any row whose own 95% CI excludes 0),
    ``family_size`` and ``reps``.
    """
    from scipy import stats as sps

    from ssdlib.stats import beta_prompt_means

    rng = np.random.default_rng(seed)
    ckpts = [f"ckpt-{i}" for i in range(1, n_checkpoints + 1)]
    labels = [BASELINE, BASE, *ckpts]
    rows = family(contrasts, ckpts)
    ch = np.array([labels.index(c) for _, c, _ in rows])
    ref = np.array([labels.index(r) for _, _, r in rows])
    crit95 = sps.t.ppf(0.975, n_prompts - 1)
    any_holm = any_raw = 0
    for _ in range(reps):
        p = beta_prompt_means(n_prompts, mean, var_between, rng)
        m = rng.binomial(K, np.broadcast_to(p, (len(labels), n_prompts))) / K
        d = m[ch] - m[ref]
        diff, se = d.mean(1), d.std(1, ddof=1) / np.sqrt(n_prompts)
        with np.errstate(invalid="ignore", divide="ignore"):
            pv = np.where(se > 0, 2 * sps.t.sf(np.abs(diff / se), n_prompts - 1), np.nan)
        t = adjust_family(
            pd.DataFrame({"diff": diff, "se_paired": se, "p_value": pv, "n_shared": n_prompts}),
            alpha,
        )
        any_holm += bool(t["verdict"].isin(["better", "worse"]).any())
        any_raw += bool(((diff - crit95 * se > 0) | (diff + crit95 * se < 0)).any())
    return {
        "holm": any_holm / reps,
        "unadjusted": any_raw / reps,
        "family_size": len(rows),
        "reps": reps,
    }
