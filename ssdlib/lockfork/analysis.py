"""Lock/fork analysis: classify positions, pair two models' scores, compare with a clustered
bootstrap and say in one sentence what the mechanism did (nats). Scores come from
:mod:`ssdlib.lockfork.scoring`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ssdlib.lockfork.scoring import SCORE_KEY, SCORING_PARAM_KEYS

CLASSES: tuple[str, ...] = ("lock", "middle", "fork")

# Defaults for the analysis; the notebook passes params/<profile>/ values over these.
DEFAULT_PARAMS: dict = {
    "entropy_col": "entropy_topk",  # the one column both backends fill identically
    "lock_quantile": 0.5,  # lock: base entropy <= this quantile of base entropies
    "fork_quantile": 0.9,  # fork: base entropy >= this quantile
    "lock_threshold": None,  # absolute nats; overrides lock_quantile when set
    "fork_threshold": None,  # absolute nats; overrides fork_quantile when set
    "n_boot": 2000,
    "ci": 0.95,
    "seed": 0,
    "equivalence_margin": 0.05,  # nats: |delta| CI inside +-margin counts as "unchanged"
    # "mean": class by the mean entropy of ALL compared models (unbiased when they differ only
    # by noise); "base": by the base model alone (regresses to the mean; kept for comparison).
    "classify_on": "mean",
}


# --------------------------------------------------------------------------- classification


CLASSIFY_ON: tuple[str, ...] = ("mean", "base")


def classification_entropy(
    base_scores: pd.DataFrame,
    others: Sequence[pd.DataFrame] = (),
    *,
    entropy_col: str = "entropy_topk",
    on: str = "mean",
) -> pd.Series:
    """The entropy (nats) positions are classed by, aligned with ``base_scores``.

    ``on="mean"``: the mean over the base model AND every model in ``others`` (same positions).
    It treats all models alike, so when they differ only by noise the expected change at a
    class is zero. ``on="base"``: the base model's entropy alone; kept to show the bias it has:
    a position picked for HIGH base entropy is, on average, one where the base model's noise
    was high, so the other model reads lower there ("forks sharpened") by regression to the
    mean, and locks read flatter, even when the two models are copies up to noise.
    """
    if on not in CLASSIFY_ON:
        raise ValueError(f"classify_on must be one of {CLASSIFY_ON}, got {on!r}")
    h = base_scores[entropy_col].astype(float)
    if on == "base" or not others:
        return h
    key = pd.MultiIndex.from_frame(base_scores[list(SCORE_KEY)])
    cols = [h.to_numpy()]
    for o in others:
        ent = o.set_index(list(SCORE_KEY))[entropy_col].astype(float)
        missing = int((~key.isin(ent.index)).sum())
        if missing:
            raise ValueError(
                f"{missing} base positions are not scored by another model: "
                "score the same responses with the same max_positions"
            )
        cols.append(ent.reindex(key).to_numpy())
    return pd.Series(np.mean(cols, axis=0), index=base_scores.index, name=entropy_col)


def classify_positions(
    base_scores: pd.DataFrame,
    *,
    entropy_col: str = "entropy_topk",
    lock_quantile: float = 0.5,
    fork_quantile: float = 0.9,
    lock_threshold: float | None = None,
    fork_threshold: float | None = None,
    others: Sequence[pd.DataFrame] = (),
    on: str = "base",
) -> pd.Series:
    """Label each position "lock" / "middle" / "fork" by entropy (nats).

    The entropy is :func:`classification_entropy` (``on="base"``: the base model's; ``on="mean"``:
    the mean of the base model and ``others``). lock: entropy <= lock threshold; fork: entropy >=
    fork threshold; middle: in between. A threshold is absolute nats when given, else the
    quantile of the classifying entropy. Returns a Series aligned with ``base_scores``
    (categorical, ordered lock < middle < fork); the thresholds used are in
    ``labels.attrs["lock_threshold"]`` / ``["fork_threshold"]``, the criterion in ``["classify_on"]``.
    """
    h = classification_entropy(base_scores, others, entropy_col=entropy_col, on=on).to_numpy(
        dtype=float
    )
    if np.isnan(h).any():
        raise ValueError(f"{entropy_col} has NaN (entropy_full needs the transformers backend)")
    if not 0 <= lock_quantile <= fork_quantile <= 1:
        raise ValueError("need 0 <= lock_quantile <= fork_quantile <= 1")
    lo = (
        float(lock_threshold)
        if lock_threshold is not None
        else float(np.quantile(h, lock_quantile))
    )
    hi = (
        float(fork_threshold)
        if fork_threshold is not None
        else float(np.quantile(h, fork_quantile))
    )
    if lo >= hi:
        raise ValueError(
            f"lock threshold {lo:.4g} nats must be below fork threshold {hi:.4g} "
            "(too many ties at one entropy? set absolute thresholds)"
        )
    lab = np.where(h <= lo, "lock", np.where(h >= hi, "fork", "middle"))
    out = pd.Series(
        pd.Categorical(lab, categories=list(CLASSES), ordered=True),
        index=base_scores.index,
        name="class",
    )
    out.attrs.update(
        {
            "lock_threshold": lo,
            "fork_threshold": hi,
            "entropy_col": entropy_col,
            "classify_on": on if others else "base",
        }
    )
    return out


def pair_scores(
    base_scores: pd.DataFrame, ssd_scores: pd.DataFrame, labels: pd.Series | None = None
) -> pd.DataFrame:
    """Join base and SSD scores position by position (``base_*`` / ``ssd_*`` columns).

    Both frames must score the same tokens: a position whose ``token_id`` differs means the
    two runs did not tokenise the same responses, and raises. ``labels`` (aligned with
    ``base_scores``) adds a ``class`` column.
    """
    keep = [
        "token_logprob",
        "token_rank",
        "entropy_topk",
        "entropy_tail_lb",
        "mass_outside_topk",
        "entropy_full",
    ]
    b = base_scores[list(SCORE_KEY) + ["token_id"] + keep].copy()
    if labels is not None:
        b["class"] = labels.reindex(base_scores.index).to_numpy()
    b["base_top1"] = [int(a[0]) for a in base_scores["topk_ids"]]
    s = ssd_scores[list(SCORE_KEY) + ["token_id"] + keep].copy()
    s["ssd_top1"] = [int(a[0]) for a in ssd_scores["topk_ids"]]
    b = b.rename(columns={c: f"base_{c}" for c in keep})
    s = s.rename(columns={c: f"ssd_{c}" for c in keep} | {"token_id": "ssd_token_id"})
    m = b.merge(s, on=list(SCORE_KEY), how="inner", validate="one_to_one")
    if len(m) != len(b) or len(m) != len(s):
        raise ValueError(
            f"base has {len(b)} positions, SSD {len(s)}, shared {len(m)}: "
            "score the same responses with the same max_positions"
        )
    if (m["token_id"] != m["ssd_token_id"]).any():
        raise ValueError("token ids differ between base and SSD scores: tokenisation mismatch")
    return m.drop(columns="ssd_token_id")


# --------------------------------------------------------------------------- bootstrap


def _boot_weights(n_clusters: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n_clusters] counts: how often each cluster is drawn in each resample."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot)


def _ratio_ci(w: np.ndarray, sums: np.ndarray, counts: np.ndarray, ci: float):
    """Percentile CI of sum(values)/count over resamples; NaN if a resample has no position."""
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = (w @ sums) / (w @ counts)
    a = (1 - ci) / 2
    if np.isnan(stats).all():
        return math.nan, math.nan
    lo, hi = np.nanquantile(stats, [a, 1 - a])
    return float(lo), float(hi)


def cluster_bootstrap_ci(
    values, clusters, *, n_boot: int = 2000, ci: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``values`` with a percentile bootstrap CI that resamples CLUSTERS (responses).

    Positions within one response are dependent (same problem, same approach), so resampling
    positions as if independent gives CIs that are far too narrow; here whole responses are
    drawn with replacement and the statistic is the position-weighted mean of the resample.
    Returns ``(estimate, lo, hi)``.
    """
    v = np.asarray(values, dtype=float)
    codes, uniq = pd.factorize(np.asarray(clusters))
    sums = np.bincount(codes, weights=v, minlength=len(uniq))
    counts = np.bincount(codes, minlength=len(uniq)).astype(float)
    lo, hi = _ratio_ci(_boot_weights(len(uniq), n_boot, seed), sums, counts, ci)
    return float(v.mean()), lo, hi


# --------------------------------------------------------------------------- comparison


def compare_models(
    base_scores: pd.DataFrame,
    ssd_scores: pd.DataFrame,
    labels: pd.Series,
    *,
    entropy_col: str = "entropy_topk",
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Base vs SSD per class ("lock", "middle", "fork", "all"): one row per class.

    Columns: n_positions, n_responses; for the chosen entropy (nats) base/ssd mean and median,
    ``delta_entropy`` = mean(SSD - base) with ``delta_entropy_lo/hi``; the same mean/delta/CI
    for ``mass_outside_topk``, ``token_logprob`` (of the actual token, nats) and
    ``top1_match`` (share of positions whose top-1 is the actual token). CIs: percentile
    bootstrap resampling responses (the same resamples for every class and metric).
    """
    m = pair_scores(base_scores, ssd_scores, labels)
    m["base_top1_match"] = (m["base_top1"] == m["token_id"]).astype(float)
    m["ssd_top1_match"] = (m["ssd_top1"] == m["token_id"]).astype(float)
    m["base_entropy"], m["ssd_entropy"] = m[f"base_{entropy_col}"], m[f"ssd_{entropy_col}"]
    codes, uniq = pd.factorize(m["response_idx"])
    w = _boot_weights(len(uniq), n_boot, seed)
    rows = []
    for cls in list(CLASSES) + ["all"]:
        sel = np.ones(len(m), bool) if cls == "all" else (m["class"] == cls).to_numpy()
        sub = m[sel]
        row = {
            "class": cls,
            "n_positions": int(sel.sum()),
            "n_responses": int(sub["response_idx"].nunique()),
        }
        counts = np.bincount(codes[sel], minlength=len(uniq)).astype(float)
        for name in ("entropy", "mass_outside_topk", "token_logprob", "top1_match"):
            b, s = sub[f"base_{name}"].to_numpy(float), sub[f"ssd_{name}"].to_numpy(float)
            d = s - b
            row[f"base_{name}"] = float(b.mean()) if len(b) else math.nan
            row[f"ssd_{name}"] = float(s.mean()) if len(s) else math.nan
            row[f"delta_{name}"] = float(d.mean()) if len(d) else math.nan
            if len(d):
                sums = np.bincount(codes[sel], weights=d, minlength=len(uniq))
                row[f"delta_{name}_lo"], row[f"delta_{name}_hi"] = _ratio_ci(w, sums, counts, ci)
            else:
                row[f"delta_{name}_lo"] = row[f"delta_{name}_hi"] = math.nan
            if name == "entropy":
                row["base_entropy_median"] = float(np.median(b)) if len(b) else math.nan
                row["ssd_entropy_median"] = float(np.median(s)) if len(s) else math.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update({"entropy_col": entropy_col, "ci": ci, "n_boot": n_boot})
    return out


def _fmt(d: float, lo: float, hi: float, ci: float) -> str:
    return f"Δ {d:+.3f} nats [{ci:.0%} CI {lo:+.3f}, {hi:+.3f}]"


def mechanism_verdict(comparison: pd.DataFrame, *, equivalence_margin: float = 0.05) -> str:
    """One sentence on the SSD mechanism from :func:`compare_models` output.

    Locks: "sharper" if the entropy-change CI is below 0, "flatter" if above, "unchanged" if
    inside +-``equivalence_margin`` nats, else "inconclusive". Forks: "preserved" if the CI is
    inside +-margin, "sharpened" / "flattened" if it excludes 0, else "inconclusive" (a CI that
    merely contains 0 but is wider than the margin does not show preservation).
    """
    ci = comparison.attrs.get("ci", 0.95)
    r = comparison.set_index("class")

    def word(cls: str, down: str, up: str, same: str) -> str:
        d, lo, hi = r.loc[cls, ["delta_entropy", "delta_entropy_lo", "delta_entropy_hi"]]
        if r.loc[cls, "n_positions"] == 0 or np.isnan(lo):
            return f"{cls}s: no positions"
        if -equivalence_margin < lo and hi < equivalence_margin:
            w = same
        elif hi < 0:
            w = down
        elif lo > 0:
            w = up
        else:
            w = "inconclusive"
        return f"{cls}s {w} ({_fmt(d, lo, hi, ci)})"

    lock = word("lock", "sharper", "flatter", "unchanged")
    fork = word("fork", "sharpened", "flattened", "preserved")
    tail = ""
    if r.loc["lock", "n_positions"] > 0:
        tail = (
            f"; tail mass outside top-k at locks {r.loc['lock', 'base_mass_outside_topk']:.3g}"
            f" -> {r.loc['lock', 'ssd_mass_outside_topk']:.3g}"
        )
    return f"{lock}, {fork}{tail}"


@dataclass
class LockForkSummary:
    """Everything the notebook shows for the lock/fork test."""

    table: (
        pd.DataFrame
    )  # tidy: class, metric, base, ssd, delta, delta_lo, delta_hi, n_positions, n_responses
    comparison: pd.DataFrame  # wide, one row per class (compare_models)
    labels: pd.Series  # per base position: lock / middle / fork
    thresholds: dict = field(default_factory=dict)  # lock_threshold, fork_threshold (nats)
    verdict: str = ""


def analysis_params(params: Mapping | None) -> dict:
    """:data:`DEFAULT_PARAMS` overridden by ``params`` (a mapping or the pydantic ``lockfork``
    block); scoring keys are accepted and ignored, any other unknown key raises."""
    given = dict(params.model_dump() if hasattr(params, "model_dump") else (params or {}))
    unknown = set(given) - set(DEFAULT_PARAMS) - set(SCORING_PARAM_KEYS)
    if unknown:
        raise ValueError(f"unknown lock/fork params: {sorted(unknown)}")
    p = dict(DEFAULT_PARAMS)
    p.update({k: v for k, v in given.items() if k in DEFAULT_PARAMS})
    return p


def _tidy(comp: pd.DataFrame) -> pd.DataFrame:
    tidy = []
    for _, r in comp.iterrows():
        for name in ("entropy", "mass_outside_topk", "token_logprob", "top1_match"):
            tidy.append(
                {
                    "class": r["class"],
                    "metric": name,
                    "base": r[f"base_{name}"],
                    "ssd": r[f"ssd_{name}"],
                    "delta": r[f"delta_{name}"],
                    "delta_lo": r[f"delta_{name}_lo"],
                    "delta_hi": r[f"delta_{name}_hi"],
                    "n_positions": r["n_positions"],
                    "n_responses": r["n_responses"],
                }
            )
    return pd.DataFrame(tidy)


def _labels(base_scores, others, p) -> pd.Series:
    return classify_positions(
        base_scores,
        entropy_col=p["entropy_col"],
        lock_quantile=p["lock_quantile"],
        fork_quantile=p["fork_quantile"],
        lock_threshold=p["lock_threshold"],
        fork_threshold=p["fork_threshold"],
        others=others,
        on=p["classify_on"],
    )


def _summary(base_scores, other_scores, labels, p) -> LockForkSummary:
    comp = compare_models(
        base_scores,
        other_scores,
        labels,
        entropy_col=p["entropy_col"],
        n_boot=p["n_boot"],
        ci=p["ci"],
        seed=p["seed"],
    )
    thresholds = {k: labels.attrs[k] for k in ("lock_threshold", "fork_threshold")}
    return LockForkSummary(
        table=_tidy(comp),
        comparison=comp,
        labels=labels,
        thresholds=thresholds,
        verdict=mechanism_verdict(comp, equivalence_margin=p["equivalence_margin"]),
    )


def lock_fork_summary(
    base_scores: pd.DataFrame, ssd_scores: pd.DataFrame, params: Mapping | None = None
) -> LockForkSummary:
    """Classify (``classify_on``: mean of both models by default), compare base vs SSD, word the verdict.

    ``params`` (a mapping, or the pydantic ``lockfork`` block of params/<profile>/06_eval.yaml)
    overrides :data:`DEFAULT_PARAMS`; the scoring keys (:data:`SCORING_PARAM_KEYS`) are accepted
    and ignored here, any other unknown key raises, so a typo in params/ is not silently ignored.
    """
    p = analysis_params(params)
    return _summary(base_scores, ssd_scores, _labels(base_scores, [ssd_scores], p), p)


@dataclass
class LockForkComparison:
    """Several fine-tuned models against the base model on ONE shared set of lock/fork classes."""

    summaries: dict  # model name -> LockForkSummary (base vs that model)
    side_by_side: pd.DataFrame  # model, class, n_positions, base/model entropy, delta, CI, word
    labels: pd.Series
    thresholds: dict = field(default_factory=dict)
    contrast: pd.DataFrame | None = None  # treatment minus reference per class (compare_models)
    contrast_verdict: str = ""


def _word(d_lo: float, d_hi: float, margin: float) -> str:
    if np.isnan(d_lo):
        return "no positions"
    if -margin < d_lo and d_hi < margin:
        return "unchanged"
    if d_hi < 0:
        return "sharper"
    if d_lo > 0:
        return "flatter"
    return "inconclusive"


def lock_fork_compare(
    base_scores: pd.DataFrame,
    models: Mapping[str, pd.DataFrame],
    params: Mapping | None = None,
    *,
    treatment: str | None = None,
    reference: str | None = None,
) -> LockForkComparison:
    """Base vs each of ``models`` (e.g. ``{"SSD": ..., "control": ...}``) on shared classes.

    Classes come from the mean entropy of the base model and EVERY model compared
    (``classify_on: mean``), so no model is favoured and the classes are the same for all.
    ``treatment`` / ``reference`` (e.g. "SSD" / "control"): also the direct contrast, entropy
    of treatment minus reference per class with the same response-cluster bootstrap: the part
    of SSD's change that plain fine-tuning on untruncated T=1 samples (the control) does not show.
    """
    p = analysis_params(params)
    if not models:
        raise ValueError("no models to compare with the base model")
    labels = _labels(base_scores, list(models.values()), p)
    summaries = {name: _summary(base_scores, sc, labels, p) for name, sc in models.items()}
    rows = []
    for name, s in summaries.items():
        for r in s.comparison.to_dict("records"):
            rows.append(
                {
                    "model": name,
                    "class": r["class"],
                    "n_positions": r["n_positions"],
                    "n_responses": r["n_responses"],
                    "base_entropy": r["base_entropy"],
                    "model_entropy": r["ssd_entropy"],
                    "delta_entropy": r["delta_entropy"],
                    "delta_entropy_lo": r["delta_entropy_lo"],
                    "delta_entropy_hi": r["delta_entropy_hi"],
                    "delta_mass_outside_topk": r["delta_mass_outside_topk"],
                    "reading": _word(
                        r["delta_entropy_lo"], r["delta_entropy_hi"], p["equivalence_margin"]
                    ),
                }
            )
    out = LockForkComparison(
        summaries=summaries,
        side_by_side=pd.DataFrame(rows),
        labels=labels,
        thresholds={k: labels.attrs[k] for k in ("lock_threshold", "fork_threshold")},
    )
    if treatment is not None and reference is not None:
        c = compare_models(
            models[reference],
            models[treatment],
            labels,
            entropy_col=p["entropy_col"],
            n_boot=p["n_boot"],
            ci=p["ci"],
            seed=p["seed"],
        )
        out.contrast = c
        parts = []
        for r in c[c["class"].isin(["lock", "fork"])].to_dict("records"):
            parts.append(
                f"{r['class']}s {treatment} - {reference} "
                f"{_fmt(r['delta_entropy'], r['delta_entropy_lo'], r['delta_entropy_hi'], p['ci'])}"
                f" ({_word(r['delta_entropy_lo'], r['delta_entropy_hi'], p['equivalence_margin'])}"
                f" than {reference})"
            )
        out.contrast_verdict = "; ".join(parts)
    return out
