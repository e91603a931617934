"""Precision / recall of the #13 rule on the labelled set, thresholds chosen by grouped CV.

Thresholds are never selected and confirmed on the same pairs: ``cross_validate`` splits the
labelled pairs into ``folds`` groups BY BASE PROBLEM (all pairs built from one base / family
fall in one fold, so a paraphrase and its renumbered twin cannot sit on both sides), picks the
grid point with the best F1 on the other folds, and flags the held-out fold with it. The
reported numbers pool the held-out predictions. ``select`` (all pairs) gives the defaults
shipped in params/; they are reported next to the CV numbers, never instead of them.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd

from .features import pair_features
from .labelled import CATEGORIES, add_answer_agreement, flags
from .rule import RuleParams, apply_rule, rule_fires, rule_inputs, subset_inputs

GRID = {
    "same_answer": (0.3, 0.4, 0.5, 0.6),
    "signature_char": (0.05, 0.1, 0.15, 0.2, 0.3, 0.4),
    "short_same_answer": (0.3, 0.4, 0.5, 0.6),
    "unknown_answer": (0.4, 0.5, 0.6, 0.7),
    "diff_answer": (0.8, 0.9, 0.95),
    "content_edit": (0.7, 0.72, 0.74, 0.76, 0.78, 0.8, 0.85, 0.9, 1.0),  # 1.0 = no veto
}


def with_features(
    pairs: pd.DataFrame, short_max_tokens: int = RuleParams.short_max_tokens
) -> pd.DataFrame:
    """``pairs`` plus answers_agree (if absent) and the #13 pair features."""
    pairs = pairs if "answers_agree" in pairs else add_answer_agreement(pairs)
    f = pair_features(pairs["problem_a"], pairs["problem_b"], short_max_tokens=short_max_tokens)
    return pd.concat([pairs.reset_index(drop=True), f], axis=1)


def _prf(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tp = int((pred & y).sum())
    p = tp / pred.sum() if pred.sum() else float("nan")
    r = tp / y.sum() if y.sum() else float("nan")
    return p, r, (2 * p * r / (p + r) if tp else 0.0)


def _grid_points(grid: dict) -> list[RuleParams]:
    keys = list(grid)
    return [replace(RuleParams(), **dict(zip(keys, v))) for v in itertools.product(*grid.values())]


def select(fp: pd.DataFrame, grid: dict = GRID, inputs=None) -> tuple[RuleParams, float]:
    """The grid point with the best F1 on ``fp`` (ties: the first, i.e. the lowest thresholds).
    ``inputs``: ``rule_inputs`` of ``fp``, when the caller has them already."""
    y = fp["label"].to_numpy(bool)
    x = inputs if inputs is not None else rule_inputs(fp, fp["answers_agree"])
    best, best_f1 = RuleParams(), -1.0
    for rp in _grid_points(grid):
        f1 = _prf(rule_fires(x, rp), y)[2]
        if f1 > best_f1 + 1e-12:
            best, best_f1 = rp, f1
    return best, best_f1


def cross_validate(
    fp: pd.DataFrame, folds: int = 5, seed: int = 0, grid: dict = GRID
) -> tuple[np.ndarray, list[RuleParams]]:
    """Held-out flags (bool per pair) and the thresholds chosen in each fold (groups = base)."""
    bases = np.array(sorted(fp["base"].unique()))
    rng = np.random.default_rng(seed)
    fold_of = dict(zip(rng.permutation(bases), np.arange(len(bases)) % folds))
    fold = fp["base"].map(fold_of).to_numpy()
    pred = np.zeros(len(fp), dtype=bool)
    chosen = []
    x = rule_inputs(fp, fp["answers_agree"])
    for k in range(folds):
        rp, _ = select(fp[fold != k], grid, inputs=subset_inputs(x, fold != k))
        chosen.append(rp)
        pred[fold == k] = rule_fires(subset_inputs(x, fold == k), rp)
    return pred, chosen


def before_after(fp: pd.DataFrame, cv_pred: np.ndarray, *, old: dict | None = None) -> pd.DataFrame:
    """Per category: label, n, flag rate of today's rule (before #13) and of the new rule (held out).

    For a positive category the flag rate is its recall; for a negative one its false-positive
    rate. Last rows: pooled precision / recall / F1 over all categories.
    """
    old = old or {"ngram": 5, "threshold_same_answer": 0.4, "threshold_diff_answer": 0.7}
    before = flags(fp, **old)["answer_aware"].to_numpy(bool)
    y = fp["label"].to_numpy(bool)
    rows = []
    for cat in CATEGORIES:
        m = (fp["category"] == cat).to_numpy()
        rows.append(
            {
                "category": cat,
                "label": "duplicate" if CATEGORIES[cat] else "different",
                "pairs": int(m.sum()),
                "before": float(before[m].mean()),
                "after": float(cv_pred[m].mean()),
            }
        )
    out = pd.DataFrame(rows)
    for name, fn in (("precision", 0), ("recall", 1), ("f1", 2)):
        out.loc[len(out)] = {
            "category": f"pooled {name}",
            "label": "",
            "pairs": len(fp),
            "before": _prf(before, y)[fn],
            "after": _prf(cv_pred, y)[fn],
        }
    return out


def labelled_report(
    seed: int = 0, params: RuleParams | None = None, folds: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Everything the 02 notebook shows about the labelled set, in one call.

    Returns (pairs, table): ``pairs`` = labelled pairs with features, ``cv_flag`` (held-out flag
    of grouped CV), ``flag`` and ``path`` (flag and firing path under ``params``, the profile's
    thresholds); ``table`` = ``before_after`` with the CV flags plus an ``after_params`` column
    (flag rates under ``params``: NOT held out when ``params`` are the CV-selected defaults).
    """
    from .labelled import labelled_pairs

    fp = with_features(labelled_pairs(seed))
    cv_pred, chosen = cross_validate(fp, folds=folds, seed=seed)
    rp = params or RuleParams()
    path = apply_rule(fp, fp["answers_agree"], rp)
    fp = fp.assign(cv_flag=cv_pred, flag=path != "", path=path)
    table = before_after(fp, cv_pred)
    y = fp["label"].to_numpy(bool)
    flag = fp["flag"].to_numpy(bool)
    after_params = [float(fp.loc[fp["category"] == c, "flag"].mean()) for c in CATEGORIES]
    after_params += list(_prf(flag, y))
    table["after_params"] = after_params
    table.attrs["chosen_per_fold"] = [c.as_dict() for c in chosen]
    return fp, table
