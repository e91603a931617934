"""Train/val contamination: exact + answer-aware fuzzy n-gram matches, and removal.

Rule for one (train, val) pair, with J = exact Jaccard of the word n-gram sets (0..1):

    exact               normalised texts identical (answers are NOT consulted: a copied problem
                        with a differently written or wrong gold answer is still a copy)
    fuzzy_same_answer   J >= threshold_same_answer and the two gold answers are equivalent
    fuzzy_diff_answer   J >= threshold_diff_answer, whatever the answers (not known to agree)

threshold_same_answer < threshold_diff_answer: agreeing answers are extra evidence that a
reworded problem is the same problem, so less text overlap is required (seed 004's idea). A
renumbered problem (one number changed, different answer) is NOT contamination by this rule
unless the texts are nearly identical (see labelled.py for the measured trade-off).

Candidates come from ``index.scan`` (exact inverted index, default) or ``lsh.lsh_scan``
(MinHash-LSH); every candidate's Jaccard is then recomputed on the n-gram strings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ssdlib.schema import require_columns

from . import answers as _answers
from .index import ScanResult, scan, self_join
from .lsh import lsh_scan
from .ngrams import jaccard_many, shingle
from .report13 import report_v2
from .rule import RuleParams

REQUIRED = ("id", "source", "problem", "answer")

# Recommended defaults, chosen on the labelled set (labelled.py; numbers in bench/contamination.md).
NGRAM = 5
THRESHOLD_SAME_ANSWER = 0.4
THRESHOLD_DIFF_ANSWER = 0.7
NUM_PERM = 128

PAIR_COLUMNS = [
    "train_id",
    "val_id",
    "jaccard",
    "answers_agree",
    "rule",
    "train_problem",
    "val_problem",
    "train_source",
    "val_source",
    "train_answer",
    "val_answer",
]


def _check(train: pd.DataFrame, val: pd.DataFrame, same: float, diff: float) -> None:
    require_columns(train, REQUIRED, "train")
    require_columns(val, REQUIRED, "val")
    if not 0.0 < same <= diff <= 1.0:
        raise ValueError(
            f"need 0 < threshold_same_answer ({same}) <= threshold_diff_answer ({diff}) <= 1"
        )


def _as_text(col: pd.Series) -> list:
    return col.tolist()


def apply_rule(
    exact: np.ndarray, jaccard: np.ndarray, agree: Sequence, same: float, diff: float
) -> np.ndarray:
    """Rule name per pair ("exact" | "fuzzy_same_answer" | "fuzzy_diff_answer"), "" = not flagged."""
    out = np.full(len(jaccard), "", dtype=object)
    for k, (e, j, a) in enumerate(zip(exact, jaccard, agree)):
        if e:
            out[k] = "exact"
        elif a is True and j >= same:
            out[k] = "fuzzy_same_answer"
        elif j >= diff:
            out[k] = "fuzzy_diff_answer"
    return out


def _scan(
    train, val, ngram, min_jaccard, method, num_perm, lsh_threshold, chunk_rows
) -> ScanResult:
    val_sh = shingle(_as_text(val["problem"]), ngram)
    texts = _as_text(train["problem"])
    if method in ("auto", "inverted"):
        return scan(texts, val_sh, ngram, min_jaccard, chunk_rows)
    if method == "lsh":
        return lsh_scan(
            texts,
            val_sh,
            ngram,
            min_jaccard,
            num_perm=num_perm,
            lsh_threshold=lsh_threshold,
            chunk_rows=chunk_rows or 5000,
        )
    raise ValueError(f"method must be 'auto', 'inverted' or 'lsh', got {method!r}")


def _pairs_frame(train, val, tpos, vpos, jac, agree, rule) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "train_id": train["id"].to_numpy()[tpos],
            "val_id": val["id"].to_numpy()[vpos],
            "jaccard": jac,
            "answers_agree": pd.array(list(agree), dtype="boolean"),
            "rule": rule,
            "train_problem": train["problem"].to_numpy()[tpos],
            "val_problem": val["problem"].to_numpy()[vpos],
            "train_source": train["source"].to_numpy()[tpos],
            "val_source": val["source"].to_numpy()[vpos],
            "train_answer": train["answer"].to_numpy()[tpos],
            "val_answer": val["answer"].to_numpy()[vpos],
        },
        columns=PAIR_COLUMNS,
    )
    return df.sort_values(
        ["jaccard", "val_id"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def _report_v1(
    train: pd.DataFrame,
    val: pd.DataFrame,
    *,
    ngram: int = NGRAM,
    threshold_same_answer: float = THRESHOLD_SAME_ANSWER,
    threshold_diff_answer: float = THRESHOLD_DIFF_ANSWER,
    num_perm: int = NUM_PERM,
    method: str = "auto",
    lsh_threshold: float | None = None,
    chunk_rows: int | None = None,
    answer_timeout_s: float = 5.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Today's (pre-#13) rule: one pass over train: (flagged pairs, best match per val row).

    The two frames are those of ``find_duplicates`` and ``best_matches`` (parameters as there);
    with method="lsh" the best-match frame only covers LSH candidates. Both carry the same
    ``attrs``: skipped, skipped_ids, method, params, answer_checker ("grading" = killable
    math-verify workers of ssdlib.grading, "inprocess" = fallback), n_candidates, chunk_rows.
    """
    _check(train, val, threshold_same_answer, threshold_diff_answer)
    train = train.reset_index(drop=True)
    val = val.reset_index(drop=True)
    res = _scan(
        train, val, ngram, threshold_same_answer, method, num_perm, lsh_threshold, chunk_rows
    )
    # Candidates: fuzzy pairs above the lower threshold, plus exact matches.
    cand = pd.DataFrame({"t": res.pairs_train, "v": res.pairs_val})
    cand = pd.concat(
        [cand, pd.DataFrame({"t": res.exact_train, "v": res.exact_val})]
    ).drop_duplicates()
    tpos, vpos = cand["t"].to_numpy(np.int64), cand["v"].to_numpy(np.int64)
    exact_set = set(zip(res.exact_train.tolist(), res.exact_val.tolist()))
    exact = np.array(
        [(t, v) in exact_set for t, v in zip(tpos.tolist(), vpos.tolist())], dtype=bool
    )
    # Exact re-check of every candidate on the n-gram strings (guards against hash collisions).
    tprob, vprob = train["problem"].to_numpy(), val["problem"].to_numpy()
    jac = jaccard_many(tprob[tpos], vprob[vpos], ngram)
    tans, vans = train["answer"].to_numpy(), val["answer"].to_numpy()
    agree = _answers._answers_agree(list(zip(tans[tpos], vans[vpos])), timeout_s=answer_timeout_s)
    rule = apply_rule(exact, jac, agree, threshold_same_answer, threshold_diff_answer)
    keep = rule != ""
    flagged = _pairs_frame(
        train,
        val,
        tpos[keep],
        vpos[keep],
        jac[keep],
        np.asarray(agree, dtype=object)[keep],
        rule[keep],
    )

    # Best match per kept val row (re-checked on strings too).
    bt = res.best_train
    has = bt >= 0
    bj = np.zeros(len(bt))
    bj[has] = jaccard_many(tprob[bt[has]], vprob[res.val_keep[has]], ngram)
    bagree = np.full(len(bt), None, dtype=object)
    bagree[has] = _answers._answers_agree(
        list(zip(tans[bt[has]], vans[res.val_keep[has]])), timeout_s=answer_timeout_s
    )
    tids = train["id"].to_numpy()

    def take(col: np.ndarray) -> np.ndarray:
        out = np.full(len(bt), None, dtype=object)
        out[has] = col[bt[has]]
        return out

    best = pd.DataFrame(
        {
            "val_id": val["id"].to_numpy()[res.val_keep],
            "train_id": take(tids),
            "jaccard": bj,
            "answers_agree": pd.array(list(bagree), dtype="boolean"),
            "val_problem": vprob[res.val_keep],
            "train_problem": take(tprob),
            "val_answer": vans[res.val_keep],
            "train_answer": take(tans),
        }
    )
    best["flagged"] = best["val_id"].isin(set(flagged["val_id"]))
    skipped = {"train": len(res.train_skipped), "val": len(res.val_skipped)}
    meta = {
        "skipped": skipped,
        "skipped_ids": {
            "train": tids[res.train_skipped].tolist(),
            "val": val["id"].to_numpy()[res.val_skipped].tolist(),
        },
        "method": "inverted" if method == "auto" else method,
        "params": {
            "ngram": ngram,
            "threshold_same_answer": threshold_same_answer,
            "threshold_diff_answer": threshold_diff_answer,
            "num_perm": num_perm,
        },
        "answer_checker": _answers.LAST_PATH,
        "n_candidates": int(len(tpos)),
        **res.stats,
    }
    flagged.attrs.update(meta)
    best.attrs.update(meta)
    return flagged, best


def contamination_report(
    train: pd.DataFrame,
    val: pd.DataFrame,
    *,
    ngram: int = NGRAM,
    threshold_same_answer: float = THRESHOLD_SAME_ANSWER,
    threshold_diff_answer: float = THRESHOLD_DIFF_ANSWER,
    num_perm: int = NUM_PERM,
    method: str = "auto",
    lsh_threshold: float | None = None,
    chunk_rows: int | None = None,
    answer_timeout_s: float = 5.0,
    rule: str = "v2",
    rule_params: RuleParams | dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One pass over train: (flagged pairs, best match per val row).

    rule="v2" (default, issue #13): math-aware canonical text, numeric signatures, the short-text
    path and answer-aware thresholds from ``rule_params`` (``rule.RuleParams`` or a dict of its
    fields; None = the defaults measured on the labelled set). ``ngram``, ``threshold_*``,
    ``num_perm``, ``method`` and ``lsh_threshold`` then do not apply (they are the v1 rule's).
    rule="v1": the pre-#13 rule (word n-gram Jaccard with two answer-aware thresholds),
    kept for side-by-side measurement. Both return the same columns (v2 adds j3, char,
    sig_eq, sig_sub); ``attrs`` carry skipped / skipped_ids / params / answer_checker.
    """
    if rule == "v1":
        return _report_v1(
            train,
            val,
            ngram=ngram,
            threshold_same_answer=threshold_same_answer,
            threshold_diff_answer=threshold_diff_answer,
            num_perm=num_perm,
            method=method,
            lsh_threshold=lsh_threshold,
            chunk_rows=chunk_rows,
            answer_timeout_s=answer_timeout_s,
        )
    if rule != "v2":
        raise ValueError(f"rule must be 'v1' or 'v2', got {rule!r}")
    require_columns(train, REQUIRED, "train")
    require_columns(val, REQUIRED, "val")
    rp = rule_params if isinstance(rule_params, RuleParams) else RuleParams(**(rule_params or {}))
    return report_v2(
        train.reset_index(drop=True),
        val.reset_index(drop=True),
        rp,
        chunk_rows=chunk_rows,
        answer_timeout_s=answer_timeout_s,
    )


def find_duplicates(
    train: pd.DataFrame,
    val: pd.DataFrame,
    *,
    ngram: int = NGRAM,
    threshold_same_answer: float = THRESHOLD_SAME_ANSWER,
    threshold_diff_answer: float = THRESHOLD_DIFF_ANSWER,
    num_perm: int = NUM_PERM,
    method: str = "auto",
    lsh_threshold: float | None = None,
    chunk_rows: int | None = None,
    answer_timeout_s: float = 5.0,
    rule: str = "v2",
    rule_params: RuleParams | dict | None = None,
) -> pd.DataFrame:
    """Flagged (train, val) pairs, one row each, most similar first (``rule``: see contamination_report).

    Columns: train_id, val_id, jaccard (exact word-n-gram Jaccard, 0..1), answers_agree
    (True/False/<NA> unknown), rule ("exact" | "fuzzy_same_answer" | "fuzzy_diff_answer"),
    train_problem, val_problem, train_source, val_source, train_answer, val_answer.
    ``attrs["skipped"]`` counts rows skipped for an empty / non-string problem per side
    (``attrs["skipped_ids"]`` names them).

    ngram: word n-gram size; thresholds: Jaccard in (0, 1], same <= diff (see module doc);
    method: "auto" (= "inverted", exact) or "lsh" (datasketch MinHash-LSH with ``num_perm``
    permutations at ``lsh_threshold``, default 0.7 * threshold_same_answer; candidates are
    re-checked exactly); chunk_rows: train rows per streaming chunk (None: auto, ~32 MB);
    answer_timeout_s: math-verify budget per answer pair, seconds.
    Raises ValueError naming a missing required column (id, source, problem, answer).
    """
    return contamination_report(
        train,
        val,
        ngram=ngram,
        threshold_same_answer=threshold_same_answer,
        threshold_diff_answer=threshold_diff_answer,
        num_perm=num_perm,
        method=method,
        lsh_threshold=lsh_threshold,
        chunk_rows=chunk_rows,
        answer_timeout_s=answer_timeout_s,
        rule=rule,
        rule_params=rule_params,
    )[0]


def best_matches(
    train: pd.DataFrame,
    val: pd.DataFrame,
    *,
    ngram: int = NGRAM,
    threshold_same_answer: float = THRESHOLD_SAME_ANSWER,
    threshold_diff_answer: float = THRESHOLD_DIFF_ANSWER,
    chunk_rows: int | None = None,
    answer_timeout_s: float = 5.0,
    rule: str = "v2",
    rule_params: RuleParams | dict | None = None,
) -> pd.DataFrame:
    """For each usable val row: its most similar train row, flagged or not (``rule``: see contamination_report).

    Columns: val_id, train_id (None when no train row shares an n-gram), jaccard (0.0 then),
    answers_agree, val_problem, train_problem, val_answer, train_answer, flagged (True when
    this val row is flagged against any train row under the thresholds). Always uses the
    exact inverted index (LSH cannot see pairs below its threshold). To get the flagged pairs
    from the same pass over train, call ``contamination_report``.
    """
    return contamination_report(
        train,
        val,
        ngram=ngram,
        threshold_same_answer=threshold_same_answer,
        threshold_diff_answer=threshold_diff_answer,
        method="inverted",
        chunk_rows=chunk_rows,
        answer_timeout_s=answer_timeout_s,
        rule=rule,
        rule_params=rule_params,
    )[1]


def decontaminate(train: pd.DataFrame, flagged: pd.DataFrame) -> pd.DataFrame:
    """``train`` without the rows named in ``flagged.train_id`` (val is never changed).

    ``attrs["removed"]`` holds the number of train rows removed.
    """
    require_columns(train, ("id",), "train")
    require_columns(flagged, ("train_id",), "flagged")
    drop = train["id"].isin(set(flagged["train_id"]))
    out = train.loc[~drop].copy()
    out.attrs["removed"] = int(drop.sum())
    return out


INTERNAL_COLUMNS = [
    "id_a",
    "id_b",
    "jaccard",
    "answers_agree",
    "rule",
    "problem_a",
    "problem_b",
    "source_a",
    "source_b",
    "answer_a",
    "answer_b",
]

# Above this many rows, shingles shared by more than _BIG_MAX_DF documents stop generating
# candidate pairs: boilerplate ("find the number of ordered pairs") makes the uncapped
# self-join quadratic in its document frequency (measured: 10k synthetic rows uncapped took
# longer than 100k capped). Below it (val is ~1k rows) the self-join is exact.
_BIG_ROWS = 5_000
_BIG_MAX_DF = 50


def find_internal_duplicates(
    df: pd.DataFrame,
    *,
    ngram: int = NGRAM,
    threshold_same_answer: float = THRESHOLD_SAME_ANSWER,
    threshold_diff_answer: float = THRESHOLD_DIFF_ANSWER,
    max_df: int | None = None,
    answer_timeout_s: float = 5.0,
    what: str = "frame",
) -> pd.DataFrame:
    """Duplicate pairs inside one frame (e.g. one val problem present in two sources).

    Same rules and columns as ``find_duplicates`` but named id_a/id_b (id_a's row comes first in
    ``df``). All rows are used at any size (no sampling): exact matches over every row, fuzzy
    matches by a self-join of shared n-grams; ``max_df`` (None: no cap up to 5k rows, else 50)
    caps how many documents a shingle may be shared by and still generate candidates, which is
    what keeps 860k rows tractable (see index.self_join for the only pairs this can miss).
    """
    require_columns(df, REQUIRED, what)
    _check(df, df, threshold_same_answer, threshold_diff_answer)
    df = df.reset_index(drop=True)
    sh = shingle(_as_text(df["problem"]), ngram)
    if max_df is None and len(sh.keep) > _BIG_ROWS:
        max_df = _BIG_MAX_DF
    a, b, _ = self_join(sh, threshold_same_answer, max_df)
    pairs = {(int(x), int(y)) for x, y in zip(a.tolist(), b.tolist())}
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(sh.norm):
        groups.setdefault(t, []).append(i)
    exact_pairs = {
        (g[i], g[j])
        for g in groups.values()
        if len(g) > 1
        for i in range(len(g))
        for j in range(i + 1, len(g))
    }
    allp = sorted(pairs | exact_pairs)
    pa = sh.keep[np.asarray([p[0] for p in allp], dtype=np.int64)]
    pb = sh.keep[np.asarray([p[1] for p in allp], dtype=np.int64)]
    exact = np.array([p in exact_pairs for p in allp], dtype=bool)
    prob, ans = df["problem"].to_numpy(), df["answer"].to_numpy()
    jac = jaccard_many(prob[pa], prob[pb], ngram)
    agree = _answers._answers_agree(list(zip(ans[pa], ans[pb])), timeout_s=answer_timeout_s)
    rule = apply_rule(exact, jac, agree, threshold_same_answer, threshold_diff_answer)
    k = rule != ""
    ids, src = df["id"].to_numpy(), df["source"].to_numpy()
    out = (
        pd.DataFrame(
            {
                "id_a": ids[pa[k]],
                "id_b": ids[pb[k]],
                "jaccard": jac[k],
                "answers_agree": pd.array(
                    list(np.asarray(agree, dtype=object)[k]), dtype="boolean"
                ),
                "rule": rule[k],
                "problem_a": prob[pa[k]],
                "problem_b": prob[pb[k]],
                "source_a": src[pa[k]],
                "source_b": src[pb[k]],
                "answer_a": ans[pa[k]],
                "answer_b": ans[pb[k]],
            },
            columns=INTERNAL_COLUMNS,
        )
        .sort_values("jaccard", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    out.attrs.update(
        {
            "skipped": len(sh.skipped),
            "skipped_ids": ids[sh.skipped].tolist(),
            "max_df": max_df,
            "answer_checker": _answers.LAST_PATH,
        }
    )
    return out
